"""``python -m bench.launch '<json argv>'``: run one command as a whole process; its wall time and its own peak RSS.

The command is started with ``posix_spawn`` from this small launcher and reaped with ``wait4``,
whose ``ru_maxrss`` is that one process's peak. (Linux carries the spawning process's peak
across fork and exec, so the command is spawned from this small interpreter, never from the
bench itself; the launcher's own few MB stay below any Python program's peak.) The command's
stdout goes to /dev/null; the tail of its stderr is kept for errors. Prints ``BENCH-RESULT <json>``.
"""

import json
import os
import shutil
import sys
import tempfile
import time

MARK = "BENCH-RESULT "


def main() -> None:
    argv = json.loads(sys.argv[1])
    path = argv[0] if os.sep in argv[0] else shutil.which(argv[0]) or argv[0]
    with tempfile.TemporaryFile() as err:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
        ]
        t = time.perf_counter()
        pid = os.posix_spawn(path, argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - t
        err.seek(0)
        stderr = err.read()[-4000:].decode("utf-8", "replace")
    result = {
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: KiB
        "exit": os.waitstatus_to_exitcode(status),
        "stderr": stderr,
    }
    print(MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
