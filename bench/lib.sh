# bench/lib.sh: helpers the benchmarks share.  Source it after
# test/lib/common.sh (it reads SW_PGPID, set by sw_cluster_start).

BENCH_TICK_US=$((1000000 / $(getconf CLK_TCK)))

# bench_server_cpu_us: CPU time (microseconds) used so far by the cluster:
# the postmaster, the backends it has reaped (its cutime/cstime) and its
# live children.  Unlike throughput, this hardly moves when other work
# shares the machine.
bench_server_cpu_us() {
    local t=0 s line rest
    for s in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$s" || continue
        rest=${line##*) }
        set -- $rest
        if [ "$s" = "/proc/$SW_PGPID/stat" ]; then
            t=$((t + ${12} + ${13} + ${14} + ${15}))
        elif [ "$2" = "$SW_PGPID" ]; then
            t=$((t + ${12} + ${13}))
        fi
    done
    echo $((t * BENCH_TICK_US))
}

# bench_median NUMBERS...: the median (the lower one of an even count).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
