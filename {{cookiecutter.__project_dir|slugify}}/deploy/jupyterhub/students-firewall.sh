#!/usr/bin/env bash
# The students' containers reach the hub's API on this server and nothing else:
# no other service of this server (a database, an admin page), no machine of
# the campus network, no cloud metadata service. Names still resolve: Docker
# answers them inside each container. Run as root once the hub has created the
# students' network (at its first start), and again after every reboot:
#   sudo deploy/jupyterhub/students-firewall.sh              # apply
#   sudo deploy/jupyterhub/students-firewall.sh --internet   # apply, and let kernels reach the internet
#   sudo deploy/jupyterhub/students-firewall.sh --remove     # undo
# COURSE_HUB_API_PORT: the hub's API port, if not JupyterHub's 8081.
set -euo pipefail
case "${1:-}" in
    "" | --internet | --remove) ;;
    *) echo "usage: $0 [--internet | --remove]" >&2; exit 2 ;;
esac

NETWORK={{ cookiecutter.project_slug }}-students
API_PORT=${COURSE_HUB_API_PORT:-8081}
TO_SERVER=COURSE-STUDENTS-IN
ONWARD=COURSE-STUDENTS-OUT

# The network's subnet, and this server's address on it as the system has it.
subnet=$(docker network inspect "$NETWORK" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Subnet"])')
gateway=$(ip -4 -o addr show to "$subnet" | awk '{ sub("/.*", "", $4); print $4; exit }')

unhook() {
    iptables -D INPUT -s "$subnet" -j "$TO_SERVER" 2>/dev/null || true
    iptables -D DOCKER-USER -s "$subnet" -j "$ONWARD" 2>/dev/null || true
    for chain in "$TO_SERVER" "$ONWARD"; do
        iptables -F "$chain" 2>/dev/null || true
        iptables -X "$chain" 2>/dev/null || true
    done
}

unhook
if [ "${1:-}" = --remove ]; then
    echo "Students' network $subnet: rules removed."
    exit 0
fi

# To this server: answers to the hub's own connections (its proxy opening
# students' servers), and the hub's API; everything else refused.
iptables -N "$TO_SERVER"
iptables -A "$TO_SERVER" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
iptables -A "$TO_SERVER" -p tcp -d "$gateway" --dport "$API_PORT" -j RETURN
iptables -A "$TO_SERVER" -j REJECT
iptables -I INPUT -s "$subnet" -j "$TO_SERVER"

# Through this server: nothing, or with --internet public addresses only.
iptables -N "$ONWARD"
iptables -A "$ONWARD" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
if [ "${1:-}" = --internet ]; then
    for private in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 100.64.0.0/10; do
        iptables -A "$ONWARD" -d "$private" -j REJECT
    done
    iptables -A "$ONWARD" -j RETURN
fi
iptables -A "$ONWARD" -j REJECT
iptables -I DOCKER-USER -s "$subnet" -j "$ONWARD"
echo "Students' network $subnet: the hub's API at $gateway:$API_PORT only${1:+, and the internet}."
