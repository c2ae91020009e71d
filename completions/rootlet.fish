# fish completion for rootlet and rootlet-wait-online

set -l cmds generate check install uninstall regenerate doctor help
complete -c rootlet -f
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -s h -l help -d 'Print help'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -s V -l version -d 'Print version'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a generate -d 'Translate sources into units'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a check -d 'Validate sources'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a install -d 'No-root install for the current user'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a uninstall -d 'Remove the no-root install'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a regenerate -d 'Regenerate units into ~/.local/share/systemd/user'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a doctor -d 'Check the rootless set-up'
complete -c rootlet -n "not __fish_seen_subcommand_from $cmds" -a help -d 'Print help'
complete -c rootlet -n "__fish_seen_subcommand_from generate" -l dry-run -d 'Print units instead of writing'
complete -c rootlet -n "__fish_seen_subcommand_from generate regenerate" -s o -l output -r -a '(__fish_complete_directories)' -d 'Output directory'
complete -c rootlet -n "__fish_seen_subcommand_from generate" -a '(__fish_complete_directories)'
complete -c rootlet -n "__fish_seen_subcommand_from check" -F
complete -c rootlet -n "__fish_seen_subcommand_from install uninstall" -l user -d 'For the current user'
complete -c rootlet -n "__fish_seen_subcommand_from install uninstall regenerate" -l no-systemctl -d 'Do not call systemctl --user'
complete -c rootlet -n "__fish_seen_subcommand_from doctor" -l json -d 'Print findings as JSON'
complete -c rootlet -n "__fish_seen_subcommand_from $cmds" -s h -l help -d 'Print help'

complete -c rootlet-wait-online -l timeout -x -d 'Give up after this long (default 90s)'
complete -c rootlet-wait-online -l fallback -x -a 'route none' -d 'Check when the target never comes'
complete -c rootlet-wait-online -l unit -x -d 'Unit to wait for (default network-online.target)'
complete -c rootlet-wait-online -s h -l help -d 'Print help'
complete -c rootlet-wait-online -s V -l version -d 'Print version'
