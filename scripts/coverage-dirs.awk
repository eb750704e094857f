# Line coverage per source directory from an lcov tracefile (make coverage).
#   awk -F: -v root=/abs/checkout/ -f scripts/coverage-dirs.awk coverage.info
# One line per directory holding sources, then, for a directory with
# subdirectories (worker/ holds ingest/ and admin/), a "DIR/**" line
# totalling the directory and everything under it, then the total.
/^SF:/ {
    d = substr($2, length(root) + 1)
    sub("/[^/]*$", "", d)
    top = d
    sub("/.*$", "", top)
    if (top != d)
        nested[top] = 1
}
/^LF:/ { lf[d] += $2; tlf[top] += $2; tf += $2 }
/^LH:/ { lh[d] += $2; tlh[top] += $2; th += $2 }
function row(name, hit, found) {
    return sprintf("%-16s %6.1f%% %7d / %-7d", name, 100 * hit / found,
                   hit, found)
}
END {
    printf "%-16s %7s %15s\n", "directory", "lines", "hit / found"
    for (x in lf)
        if (lf[x] > 0)
            print row(x "/", lh[x], lf[x]) | "sort"
    for (x in nested)
        print row(x "/**", tlh[x], tlf[x]) | "sort"
    close("sort")
    print row("total", th, tf)
}
