# bash completion for tend(1).
#
# Install: install -Dm644 contrib/completions/tend.bash \
#              /usr/local/share/bash-completion/completions/tend
# or source it from ~/.bashrc.
#
# Process names come from the running tend (`tend status --json`), parsed
# with grep and sed so that jq is not needed. `--dir DIR` on the line being
# completed is honoured.

_tend_commands="run status start stop restart reset reload shutdown logs events health check help"

_tend_run_value_flags="-c --config --name --restart --restart-delay --backoff-max --backoff-factor
    --min-uptime --max-restarts --restart-window --breaker-cooldown --stop-signal
    --stop-timeout --cwd --env --user --health-cmd --health-tcp --health-http
    --health-interval --health-timeout --health-retries --health-start-period
    --log-dir --stop-file --http"
_tend_run_bool_flags="--detach -q --quiet -i --interactive"

# Print the process names of the tend that owns DIR ($2, may be empty),
# asking the tend binary $1.
_tend_names() {
    local bin=$1 dir=$2
    if [[ -n $dir ]]; then
        "$bin" --dir "$dir" status --json 2>/dev/null
    else
        "$bin" status --json 2>/dev/null
    fi | grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_tend() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

    # Find the command word, the --dir value, and whether `--` was seen.
    local i word cmd="" dir="" dashdash=0 dashdash_at=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if ((dashdash)); then
            continue
        fi
        case $word in
            --dir) ((i++)); dir=${COMP_WORDS[i]} ;;
            --dir=*) dir=${word#--dir=} ;;
            --) [[ $cmd == run ]] && { dashdash=1; dashdash_at=$i; } ;;
            -*)
                # Skip the value of a run flag that takes one.
                if [[ $cmd == run || $cmd == check || $cmd == logs ]] &&
                    [[ " $_tend_run_value_flags -n --lines " == *" $word "* ]]; then
                    ((i++))
                fi
                ;;
            *) [[ -z $cmd ]] && cmd=$word ;;
        esac
    done

    # After `tend run ... --`: a command, then its arguments.
    if ((dashdash)); then
        if ((COMP_CWORD == dashdash_at + 1)); then
            COMPREPLY=($(compgen -c -- "$cur"))
        else
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi

    # Values of flags.
    case $prev in
        --dir | --cwd | --log-dir)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur"))
            return 0
            ;;
        -c | --config | --stop-file)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --restart)
            COMPREPLY=($(compgen -W "always on-failure never" -- "$cur"))
            return 0
            ;;
        --stop-signal)
            COMPREPLY=($(compgen -W "TERM INT QUIT HUP KILL USR1 USR2 WINCH" -- "$cur"))
            return 0
            ;;
        --user)
            COMPREPLY=($(compgen -u -- "$cur"))
            return 0
            ;;
        --name | --restart-delay | --backoff-max | --backoff-factor | --min-uptime | \
            --max-restarts | --restart-window | --breaker-cooldown | --stop-timeout | \
            --env | --health-cmd | --health-tcp | --health-http | --health-interval | \
            --health-timeout | --health-retries | --health-start-period | --http | -n | --lines)
            # A free-form value: nothing sensible to offer.
            return 0
            ;;
    esac

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$_tend_commands --dir -h --help -V --version" -- "$cur"))
        return 0
    fi

    local bin=${COMP_WORDS[0]}
    case $cmd in
        run)
            COMPREPLY=($(compgen -W "$_tend_run_value_flags $_tend_run_bool_flags -- --dir --help" -- "$cur"))
            ;;
        status)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--json --dir --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_tend_names "$bin" "$dir")" -- "$cur"))
            fi
            ;;
        start | stop | restart)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--all --dir --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_tend_names "$bin" "$dir")" -- "$cur"))
            fi
            ;;
        reset | health)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--dir --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_tend_names "$bin" "$dir")" -- "$cur"))
            fi
            ;;
        logs)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-f --follow -n --lines --dir --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_tend_names "$bin" "$dir")" -- "$cur"))
            fi
            ;;
        events)
            COMPREPLY=($(compgen -W "-f --follow --json --dir --help" -- "$cur"))
            ;;
        check)
            COMPREPLY=($(compgen -W "-c --config --dir --help" -- "$cur"))
            ;;
        reload | shutdown)
            COMPREPLY=($(compgen -W "--dir --help" -- "$cur"))
            ;;
        help)
            COMPREPLY=($(compgen -W "$_tend_commands" -- "$cur"))
            ;;
    esac
    return 0
}

complete -F _tend tend
