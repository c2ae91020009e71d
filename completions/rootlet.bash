# bash completion for rootlet                                  -*- shell-script -*-

_rootlet() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local commands="generate check install uninstall regenerate doctor docker print cat rm add list help"
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-h --help -V --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    case $prev in
        -o|--output)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "table json" -- "$cur"))
            return ;;
        -f|--filter)
            [[ $cmd == list ]] && { COMPREPLY=($(compgen -W "name=" -- "$cur")); compopt -o nospace 2>/dev/null; return; } ;;
    esac
    local opts=""
    case $cmd in
        generate) opts="--dry-run -o --output -h --help" ;;
        check) opts="-h --help" ;;
        install|uninstall) opts="--user --no-systemctl -h --help" ;;
        regenerate) opts="-o --output --no-systemctl -h --help" ;;
        doctor) opts="--json -h --help" ;;
        docker)
            if [[ $cword -eq $((i + 1)) ]]; then
                COMPREPLY=($(compgen -W "enable disable status" -- "$cur")); return
            fi
            opts="--exec --no-reload --unit -h --help" ;;
        print|cat) opts="--unit -h --help" ;;
        rm) opts="-a --all -f --force -i --ignore --no-reload -h --help" ;;
        add) opts="-r --replace --no-reload --now -h --help" ;;
        list) opts="-f --filter --format -h --help" ;;
        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        case $cmd in
            generate) COMPREPLY=($(compgen -d -- "$cur")) ;;
            check|add) COMPREPLY=($(compgen -f -- "$cur")) ;;
            print|cat|rm)
                # Source files in the user's own directory (no D-Bus, no manager asked).
                local d=${XDG_CONFIG_HOME:-$HOME/.config}/containers/systemd f names=""
                for f in "$d"/*.{container,network,volume,image,pod,build,kube,artifact,socket}; do
                    [[ -e $f ]] && names+=" ${f##*/}"
                done
                COMPREPLY=($(compgen -W "$names" -- "$cur")) ;;
        esac
    fi
}
complete -F _rootlet rootlet

_rootlet_wait_online() {
    local cur=${COMP_WORDS[COMP_CWORD]} i
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            COMPREPLY=($(compgen -c -- "$cur"))
            return
        fi
    done
    case ${COMP_WORDS[COMP_CWORD-1]} in
        --timeout|--unit) return ;;
        --fallback) COMPREPLY=($(compgen -W "route none" -- "$cur")); return ;;
    esac
    COMPREPLY=($(compgen -W "--timeout --fallback --unit -h --help -V --version --" -- "$cur"))
}
complete -F _rootlet_wait_online rootlet-wait-online
