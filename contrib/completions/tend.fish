# fish completion for tend(1).
#
# Install: install -Dm644 contrib/completions/tend.fish \
#              /usr/local/share/fish/vendor_completions.d/tend.fish
# (or ~/.config/fish/completions/tend.fish).
#
# Process names come from the running tend (`tend status --json`), parsed
# with grep and sed so that jq is not needed. `--dir DIR` on the line being
# completed is honoured.

set -l __tend_commands run status start stop restart reset reload shutdown logs events health check help

# The process names of the tend that owns the --dir given on the line.
function __tend_names
    set -l tokens (commandline -opc)
    set -l dir
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case --dir
                if test $i -lt $n
                    set dir --dir $tokens[(math $i + 1)]
                end
            case '--dir=*'
                set dir --dir (string replace -- --dir= '' $tokens[$i])
        end
    end
    $tokens[1] $dir status --json 2>/dev/null \
        | grep -o '"name": *"[^"]*"' \
        | sed 's/.*"\([^"]*\)"$/\1/'
end

# True after `tend run ... --`: what follows is the command to supervise.
function __tend_run_after_dashdash
    set -l tokens (commandline -opc)
    contains -- run $tokens; and contains -- -- $tokens
end

# True when the word being completed directly follows `--`: the command.
function __tend_run_command_next
    set -l tokens (commandline -opc)
    test "$tokens[-1]" = --
end

complete -c tend -f

# Global options.
complete -c tend -l dir -r -a '(__fish_complete_directories)' -d 'State directory (default .tend, env TEND_DIR)'
complete -c tend -s h -l help -d 'Print help and exit'
complete -c tend -n __fish_use_subcommand -s V -l version -d 'Print the version and exit'

# Commands.
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a run -d 'Supervise processes, in the foreground'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a status -d 'Print the states of a running tend'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a start -d 'Start processes'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a stop -d 'Stop processes'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a restart -d 'Restart processes'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a reset -d 'Close a tripped breaker and start again'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a reload -d 'Re-read the config file'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a shutdown -d 'Stop everything and exit'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a logs -d 'Print or follow a process log'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a events -d 'Print or follow state changes'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a health -d 'Exit 0 when the processes are ready'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a check -d 'Validate a config file'
complete -c tend -n "not __fish_seen_subcommand_from $__tend_commands" -a help -d 'Print the help of a command'
complete -c tend -n '__fish_seen_subcommand_from help' -a "$__tend_commands"

# tend run
set -l run "__fish_seen_subcommand_from run; and not __tend_run_after_dashdash"
complete -c tend -n $run -s c -l config -r -F -d 'Config file'
complete -c tend -n $run -l name -x -d 'Process name'
complete -c tend -n $run -l restart -x -a 'always on-failure never' -d 'Restart policy'
complete -c tend -n $run -l restart-delay -x -d 'First restart delay'
complete -c tend -n $run -l backoff-max -x -d 'Longest restart delay'
complete -c tend -n $run -l backoff-factor -x -d 'Backoff multiplier'
complete -c tend -n $run -l min-uptime -x -d 'Run time that resets the backoff'
complete -c tend -n $run -l max-restarts -x -d 'Restarts allowed in the window'
complete -c tend -n $run -l restart-window -x -d 'Breaker window'
complete -c tend -n $run -l breaker-cooldown -x -d 'Time before an open breaker retries'
complete -c tend -n $run -l stop-signal -x -a 'TERM INT QUIT HUP KILL USR1 USR2 WINCH' -d 'Stop signal'
complete -c tend -n $run -l stop-timeout -x -d 'Time before SIGKILL'
complete -c tend -n $run -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory'
complete -c tend -n $run -l env -x -d 'Environment variable K=V (repeat)'
complete -c tend -n $run -l user -x -a '(__fish_complete_users)' -d 'Run as USER[:GROUP]'
complete -c tend -n $run -l health-cmd -x -d 'Health check command'
complete -c tend -n $run -l health-tcp -x -d 'Health check HOST:PORT'
complete -c tend -n $run -l health-http -x -d 'Health check URL'
complete -c tend -n $run -l health-interval -x -d 'Time between health checks'
complete -c tend -n $run -l health-timeout -x -d 'Health check timeout'
complete -c tend -n $run -l health-retries -x -d 'Failures before unhealthy'
complete -c tend -n $run -l health-start-period -x -d 'Delay before the first check'
complete -c tend -n $run -l log-dir -x -a '(__fish_complete_directories)' -d 'Log directory'
complete -c tend -n $run -l stop-file -r -F -d 'STOP sentinel path'
complete -c tend -n $run -l detach -d 'Run in the background once started'
complete -c tend -n $run -s q -l quiet -d 'Do not copy process output to stdout'
complete -c tend -n $run -s i -l interactive -d 'Child gets the terminal (single-command mode)'
complete -c tend -n $run -l http -x -d 'Serve /healthz /status /metrics on ADDR'
complete -c tend -n '__tend_run_after_dashdash; and __tend_run_command_next' -a '(__fish_complete_command)'
complete -c tend -n '__tend_run_after_dashdash; and not __tend_run_command_next' -F

# Commands that take process names.
complete -c tend -n '__fish_seen_subcommand_from status start stop restart reset health logs' -a '(__tend_names)'
complete -c tend -n '__fish_seen_subcommand_from status' -l json -d 'Print the status document'
complete -c tend -n '__fish_seen_subcommand_from start stop restart' -l all -d 'Every process'
complete -c tend -n '__fish_seen_subcommand_from logs' -s f -l follow -d 'Follow'
complete -c tend -n '__fish_seen_subcommand_from logs' -s n -l lines -x -d 'Last LINES lines'
complete -c tend -n '__fish_seen_subcommand_from events' -s f -l follow -d 'Follow'
complete -c tend -n '__fish_seen_subcommand_from events' -l json -d 'Print JSON lines'
complete -c tend -n '__fish_seen_subcommand_from check' -s c -l config -r -F -d 'Config file (default tend.json)'
