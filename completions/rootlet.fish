# fish completion for rootlet and rootlet-wait-online

set -l cmds generate check install uninstall regenerate doctor docker print cat rm add list help
complete -c rootlet -f
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -s h -l help -d 'Print help'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -s V -l version -d 'Print version'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a generate -d 'Translate sources into units'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a check -d 'Validate sources'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a install -d 'No-root install for the current user'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a uninstall -d 'Remove the no-root install'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a regenerate -d 'Regenerate units into ~/.local/share/systemd/user'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a doctor -d 'Check the rootless set-up'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a print -d 'Print a source with its drop-ins'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a cat -d 'Print a source (alias of print)'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a rm -d 'Remove sources or applications'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a add -d 'Add quadlet files, directories, bundles or URLs'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a list -d 'List sources with their units and states'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a help -d 'Print help'
complete -c rootlet -n "__fish_seen_subcommand_from generate" -l dry-run -d 'Print units instead of writing'
complete -c rootlet -n "__fish_seen_subcommand_from generate regenerate" -s o -l output -r -a '(__fish_complete_directories)' -d 'Output directory'
complete -c rootlet -n "__fish_seen_subcommand_from generate" -a '(__fish_complete_directories)'
complete -c rootlet -n "__fish_seen_subcommand_from check" -F
complete -c rootlet -n "__fish_seen_subcommand_from install uninstall" -l user -d 'For the current user'
complete -c rootlet -n "__fish_seen_subcommand_from install uninstall regenerate" -l no-systemctl -d 'Do not call systemctl --user'
complete -c rootlet -n "__fish_seen_subcommand_from doctor" -l json -d 'Print findings as JSON'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a docker -d 'Make the rootless Docker daemon wait for the network'
complete -c rootlet -n "__fish_seen_subcommand_from docker; and not __fish_seen_subcommand_from enable disable status" -a 'enable disable status'
complete -c rootlet -n "__fish_seen_subcommand_from docker" -l exec -d 'Run the daemon through rootlet-wait-online'
complete -c rootlet -n "__fish_seen_subcommand_from docker" -l no-reload -d 'Do not reload the user manager'
complete -c rootlet -n "__fish_seen_subcommand_from docker" -l unit -r -d 'The daemon unit (docker.service)'
function __rootlet_sources
    set -l d (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/containers/systemd
    for f in $d/*.{container,network,volume,image,pod,build,kube,artifact,socket}
        basename $f
    end
end
complete -c rootlet -n "__fish_seen_subcommand_from print cat" -l unit -d 'Print the generated unit'
complete -c rootlet -n "__fish_seen_subcommand_from print cat rm" -a '(__rootlet_sources)'
complete -c rootlet -n "__fish_seen_subcommand_from rm" -s a -l all -d 'Remove every source and application'
complete -c rootlet -n "__fish_seen_subcommand_from rm" -s f -l force -d 'Stop running units first'
complete -c rootlet -n "__fish_seen_subcommand_from rm" -s i -l ignore -d 'Unknown names are not an error'
complete -c rootlet -n "__fish_seen_subcommand_from rm add" -l no-reload -d 'Do not reload the user manager'
complete -c rootlet -n "__fish_seen_subcommand_from add" -s r -l replace -d 'Overwrite existing files'
complete -c rootlet -n "__fish_seen_subcommand_from add" -l now -d 'Start the units added'
complete -c rootlet -n "__fish_seen_subcommand_from add" -F
complete -c rootlet -n "__fish_seen_subcommand_from list" -s f -l filter -x -a 'name=' -d 'Only names matching name=GLOB'
complete -c rootlet -n "__fish_seen_subcommand_from list" -l format -x -a 'table json' -d 'Output format'
complete -c rootlet -n "__fish_seen_subcommand_from $cmds" -s h -l help -d 'Print help'

complete -c rootlet-wait-online -l timeout -x -d 'Give up after this long (default 90s)'
complete -c rootlet-wait-online -l fallback -x -a 'route none' -d 'Check when the target never comes'
complete -c rootlet-wait-online -l unit -x -d 'Unit to wait for (default network-online.target)'
complete -c rootlet-wait-online -s h -l help -d 'Print help'
complete -c rootlet-wait-online -s V -l version -d 'Print version'
