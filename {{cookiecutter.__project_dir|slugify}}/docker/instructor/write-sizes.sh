#!/bin/sh
# Writes what the course costs a student's computer into README.md, measured
# from the image just built (make test runs it): the download (the image's
# layers compressed, as a registry serves them), the disk space it takes once
# unpacked, and the memory it asks for (COURSE_MEMORY_GB in the Dockerfile).
set -eu
image=$1
readme=$2

# One look at the image (which stops here if it is missing): its size, then its environment.
inspected=$(docker image inspect --format '{{.Size}}{{range .Config.Env}}{{println}}{{.}}{{end}}' "$image")
disk=$(echo "$inspected" | head -n 1)
memory=$(echo "$inspected" | sed -n 's/^COURSE_MEMORY_GB=//p')
download=$(docker save "$image" | gzip -1 | wc -c)

# The line after the marker is replaced; nothing else in README.md changes.
awk -v download="$download" -v disk="$disk" -v memory="$memory" '
    replace {
        printf "What the course needs: a download of about %d MB the first time, about %.1f GB of disk space, and %s GB of memory for Docker.\n", int(download / 1e7 + 0.5) * 10, disk / 1e9, memory
        replace = 0
        next
    }
    /^<!-- make test writes the line below/ { replace = 1 }
    { print }
' "$readme" > "$readme.new"
mv "$readme.new" "$readme"
