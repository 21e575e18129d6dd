"""`python -m localcloud.pdeathsig --parent-pid PID -- CMD [ARGS...]`: exec CMD so that it is sent SIGTERM when
the process that started it dies, even by `kill -9` (Linux's PR_SET_PDEATHSIG, which survives exec).

`localcloud.procs.ManagedProcess` starts moto and gunicorn through it, so a crashed or killed local cloud does
not leave servers behind. Elsewhere than Linux it simply execs CMD (the parent's exit hooks still clean up).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def arm_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.pdeathsig", description=__doc__)
    parser.add_argument("--parent-pid", type=int, required=True, help="the pid expected as this process's parent")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    arm_parent_death_signal()
    if os.getppid() != args.parent_pid:  # the parent died before the signal was armed
        return 1
    os.execvp(command[0], command)
    return 0  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
