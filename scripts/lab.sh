#!/usr/bin/env bash
# make lab: JupyterLab from .venv on this machine or a remote one.
#   make lab                      # 127.0.0.1:8888, a browser only where there is a display
#   make lab PORT=8890 IP=0.0.0.0 # another port; listen on every interface (mind the token)
# Prints the URL with its token, and the SSH tunnel line for reaching a remote machine from a laptop.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8888}
IP=${IP:-127.0.0.1}
LAB_DIR=${LAB_DIR:-$PWD}   # the folder the Lab serves (tests/test_lab.py serves a copy of notebooks/)

if [ ! -x .venv/bin/jupyter ]; then
    echo "error: no JupyterLab in .venv (.venv/bin/jupyter is missing). Run 'make env' (or 'bash scripts/setup_env.sh') first." >&2
    exit 1
fi
case "$PORT" in
    ''|*[!0-9]*) echo "error: PORT must be a number, got '$PORT' (e.g. make lab PORT=8890)" >&2; exit 1 ;;
esac
if [ "${#PORT}" -gt 5 ] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    echo "error: PORT must be between 1 and 65535, got '$PORT' (e.g. make lab PORT=8890)" >&2; exit 1
fi
if ! .venv/bin/python - "$IP" "$PORT" <<'EOF'
import errno, socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
with socket.socket() as s:
    try:
        s.bind((ip, port))
    except socket.gaierror as e:  # not an address at all
        sys.exit(f"error: IP '{ip}' is not an address ({e.strerror}); use make lab IP=127.0.0.1 (this machine only) "
                 f"or IP=0.0.0.0 (every interface)")
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:
            sys.exit(f"error: IP {ip} is not an address of this machine; use make lab IP=127.0.0.1 (this machine "
                     f"only) or IP=0.0.0.0 (every interface)")
        if e.errno == errno.EACCES:
            sys.exit(f"error: port {port} needs more rights than this user has; pick one above 1023: make lab PORT=8890")
        sys.exit(f"error: cannot listen on {ip}:{port} ({e.strerror}); another Lab may be running there. "
                 f"Stop it, or pick a free port: make lab PORT={port + 2}")
EOF
then
    exit 1
fi

token=${TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')}
flags=(--ip="$IP" --port="$PORT" --port-retries=0 --ServerApp.root_dir="$LAB_DIR" --IdentityProvider.token="$token"
       --config=scripts/lab_config.py
       --ServerApp.default_url=/lab/tree/notebooks)
[ "$(id -u)" = 0 ] && flags+=(--allow-root)   # containers and CI machines run as root
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" != Darwin ]; then
    flags+=(--no-browser)                      # no display: open the URL below yourself
fi
host=$IP; [ "$IP" = 0.0.0.0 ] && host=$(hostname)
cat <<EOF
JupyterLab from .venv (the notebooks' python3 kernel is this .venv's Python, with dml_utils):
    http://$host:$PORT/lab/tree/notebooks?token=$token
From a laptop, when this runs on a remote machine, forward the port first:
    ssh -N -L $PORT:localhost:$PORT $(id -un)@$(hostname)
then open http://localhost:$PORT/lab/tree/notebooks?token=$token
Runs started in the Lab write under build/; only 'make reproduce' updates figures/, results/ and notebooks/.
The Lab does not save into notebooks/ (the committed notebooks): keep edits with Save Notebook As... under build/lab/.
Stop with Ctrl-C.
EOF
exec .venv/bin/jupyter lab "${flags[@]}"
