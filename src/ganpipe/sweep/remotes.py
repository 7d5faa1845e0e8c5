"""The two remotes a sweep shares through: the git remote (the commit the tasks clone, and the experiment refs
they push) and the DVC remote (data, models and the run-cache). Every check here runs before anything is
submitted, and fails with a ValueError of one line that names the remote."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXPS = "refs/exps"   # where DVC keeps experiments in git: refs/exps/<baseline[:2]>/<baseline[2:]>/<name>


# never a password prompt: a remote that wants one is unreachable for the tasks too
QUIET = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}


def _git(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """git, with a server that does not answer in `timeout` s reported as a failed call (exit 124)."""
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=timeout, env=QUIET)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"no answer in {timeout:.0f} s")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def head_commit(repo: Path) -> str:
    r = _git(repo, "rev-parse", "HEAD")
    if r.returncode:
        raise ValueError(f"{repo} is not a git repository with a commit: {_first_line(r.stderr)}")
    return r.stdout.strip()


def git_url(repo: Path, remote: str) -> str:
    r = _git(repo, "remote", "get-url", remote)
    if r.returncode:
        raise ValueError(f"no git remote {remote!r}: add the shared repository with `git remote add {remote} URL`")
    return r.stdout.strip()


def experiments_on(repo: Path, remote: str, sha: str) -> set[str]:
    """The names of the experiments of baseline `sha` that the git remote holds (one ls-remote: the reachability
    check as well)."""
    url = git_url(repo, remote)
    prefix = f"{EXPS}/{sha[:2]}/{sha[2:]}/"
    r = _git(repo, "ls-remote", url, f"{prefix}*", timeout=60)
    if r.returncode:
        raise ValueError(f"git remote {remote!r} ({url}) is not reachable: {_first_line(r.stderr)}")
    refs = [line.split("\t")[1] for line in r.stdout.splitlines() if "\t" in line]
    return {ref[len(prefix):] for ref in refs if ref.startswith(prefix)}


def check_published(repo: Path, remote: str, sha: str) -> None:
    """Each task clones the commit from the git remote, so the commit must be on one of its branches, and no
    tracked file may differ from it (dvc.lock aside: the tasks write their own)."""
    dirty = _git(repo, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock").stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    if dirty:
        raise ValueError(f"uncommitted changes would not reach the tasks ({', '.join(dirty[:5])}"
                         f"{', ...' if len(dirty) > 5 else ''}): commit them and push to {remote!r}")
    fetched = _git(repo, "fetch", "--quiet", remote, timeout=60)
    if fetched.returncode:
        raise ValueError(f"git remote {remote!r} ({git_url(repo, remote)}) is not reachable: "
                         f"{_first_line(fetched.stderr)}")
    branches = _git(repo, "branch", "--remotes", "--contains", sha, "--format=%(refname:short)").stdout.split()
    if not any(b.startswith(f"{remote}/") for b in branches):
        raise ValueError(f"commit {sha[:7]} is not on any branch of {remote!r}, so the tasks cannot clone it: "
                         f"`git push {remote} HEAD`")


def check_dvc_remote(repo: Path, name: str | None) -> str:
    """Reach the DVC remote (the project's default when `name` is None) once; return how to call it."""
    from dvc.config import NoRemoteError
    from dvc.repo import Repo

    try:
        with Repo(str(repo)) as dvc_repo:
            remote = dvc_repo.cloud.get_remote(name)
            url = dvc_repo.config["remote"][remote.name]["url"]
            label = f"DVC remote {remote.name!r} ({url})"
            try:
                remote.fs.exists(remote.path)
            except PermissionError as e:   # s3fs's 403: reached, but not with these credentials
                raise ValueError(f"{label} refused the credentials: {_first_line(str(e))} (set them with `dvc remote "
                                 f"modify --local` or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)") from None
            except Exception as e:   # botocore, OSError, ...: whichever the remote's filesystem raises
                raise ValueError(f"{label} is not reachable: {_first_line(str(e))}") from None
            return label
    except NoRemoteError:
        raise ValueError("no DVC remote: the tasks share data, models and the run-cache through one; add it with "
                         "`dvc remote add -d NAME URL`") from None
    except ValueError:
        raise
    except Exception as e:   # an unknown remote name, an unreadable config
        raise ValueError(f"DVC remote {name or '(default)'}: {_first_line(str(e))}") from None


def pull_experiments(repo: Path, remote: str, sha: str, dvc_remote: str | None) -> None:
    """`dvc exp pull` every experiment of baseline `sha` from the git remote, with its outputs from the DVC
    remote (compare and the study read grids from the cache)."""
    cmd = [sys.executable, "-m", "dvc", "exp", "pull", remote, "--rev", sha, "--force"]
    if dvc_remote:
        cmd += ["--remote", dvc_remote]
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if r.returncode:
        raise ValueError(f"dvc exp pull {remote} failed: {_first_line(r.stderr or r.stdout)}")
