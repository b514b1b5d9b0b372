#!/usr/bin/env bash
# The main job, end to end, on the embedded defaults: record a small pipeline
# with `roar run` in a git work tree, inspect it, register it to a local
# GLaaS, fetch it into a fresh directory and reproduce it there, byte for byte.
set -euo pipefail
demo=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$demo"
}
trap cleanup EXIT
# Each part of the demo is its own person: no key or login of the caller is used.
export HOME="$demo/home" XDG_CONFIG_HOME="$demo/home/.config" NO_COLOR=1
mkdir -p "$HOME" "$demo/project"
cd "$demo/project"

echo "== a git project whose remote is a bare repository ($demo)"
cat > prep.py <<'PY'
rows = open("data.csv").read().split()
open("clean.csv", "w").write("\n".join(sorted(r.upper() for r in rows)))
PY
cat > train.py <<'PY'
import json, os
os.makedirs("model", exist_ok=True)
rows = open("clean.csv").read().split()
open("model/weights.bin", "wb").write(bytes(len(r) for r in rows) * 1000)
json.dump({"rows": len(rows)}, open("model/config.json", "w"))
PY
cat > evaluate.py <<'PY'
import json
w = open("model/weights.bin", "rb").read()
json.dump({"sum": sum(w), "bytes": len(w)}, open("metrics.json", "w"))
PY
printf 'pear\napple\nfig\nkiwi\n' > data.csv
printf '.roar/\nreproduce-*/\n' > .gitignore
python - <<'PY'
import io
from dulwich import porcelain
repo = porcelain.init(".")
porcelain.add(repo, ["prep.py", "train.py", "evaluate.py", "data.csv", ".gitignore"])
porcelain.commit(repo, message=b"a small pipeline", author=b"Demo <demo@example.com>",
                 committer=b"Demo <demo@example.com>")
porcelain.init("../origin.git", bare=True)
config = repo.get_config()
config.set((b"remote", b"origin"), b"url", b"../origin.git")
config.write_to_path()
porcelain.push(".", "../origin.git", b"master", errstream=io.BytesIO())
# as `git push` does: what origin now has, as the remote-tracking branch
repo.refs[b"refs/remotes/origin/master"] = repo.refs[b"refs/heads/master"]
PY

echo "== record it with roar run"
roar init -n
roar run python prep.py
roar run python train.py
roar run python evaluate.py

echo "== inspect: roar log, roar dag, roar show"
roar log
roar dag
roar show metrics.json

echo "== start a local GLaaS (SQLite in a temp dir)"
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
glaas-server serve --host 127.0.0.1 --port "$port" --data-dir "$demo/glaas" > "$demo/glaas.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 100); do
  python -c "import requests,sys; requests.get('$url/api/v1', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
roar config set glaas.url "$url"

echo "== register the session"
roar register -y   # not logged in: publishing anonymously, said yes to up front

hash_of() { python -c 'import sys, blake3; print(blake3.blake3(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }
metrics=$(hash_of metrics.json)

echo "== fetch into a fresh directory and reproduce from the hash alone"
mkdir "$demo/fresh"
cd "$demo/fresh"
roar init -n
roar config set glaas.url "$url"
roar fetch "$metrics"
start=$(date +%s.%N)
roar reproduce "$metrics" --run -y --json > result.json
end=$(date +%s.%N)

echo "== original vs reproduced"
python - "$demo/project" result.json "$start" "$end" <<'PY'
import json, sys
from pathlib import Path
import blake3
original, result = Path(sys.argv[1]), json.load(open(sys.argv[2]))["result"]
ok = True
for a in result["artifacts"]:
    path = original / a["path"]
    if path.is_file():
        before = blake3.blake3(path.read_bytes()).hexdigest()
    else:
        before = a["expected"]  # a composite: its tree id, as recorded
    same = a["actual"] == before == a["expected"]
    ok &= same
    print(f"  {a['step']:>3} {a['path']:<14} original {before[:16]}  reproduced "
          f"{(a['actual'] or '-')[:16]}  {'identical' if same else 'DIFFERENT'}")
print(f"reproduced in {float(sys.argv[4]) - float(sys.argv[3]):.1f}s "
      f"({result['environment']['mode']} environment)")
sys.exit(0 if ok and result["identical"] else 1)
PY
echo "== demo passed: the reproduced bytes match the originals"
