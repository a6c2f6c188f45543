"""Runs under the Python that has LibreOffice's `uno` module (Debian's
python3-uno for the system python; on Windows, python.exe in LibreOffice's
program folder), not under the app's own interpreter: the app's venv cannot
import `uno`. It is therefore a script on its own, importing nothing of
pbforms.

It connects to the soffice the app started (listening on a named pipe) and
converts one file per request. Requests and answers are JSON lines on
stdin/stdout:

    {"source": "/tmp/in.docx", "target": "/tmp/out.pdf", "filter": "writer_pdf_Export",
     "filter_data": {"IsSkipEmptyPages": false}}
    {"ok": true}  or  {"ok": false, "error": "..."}

The first line it writes is {"ready": true} once soffice answers. When the
office dies, the next request fails and the bridge exits; the app restarts
both.

It also stands watch for the app (arguments: the pipe's name, seconds to
wait for the office, the office's process id, the folder of its profile
and files): should the app die without stopping the office (SIGKILL, a
crash), the bridge, whose parent is then another process, kills the office
(a process group of its own) and removes that folder. A soffice left
behind holds some 250 MB for good.
"""
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path


def connect(pipe_name, seconds):
    import uno
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + seconds
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe_name};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def props(**values):
    from com.sun.star.beans import PropertyValue
    out = []
    for name, value in values.items():
        p = PropertyValue()
        p.Name, p.Value = name, value
        out.append(p)
    return tuple(out)


def convert(desktop, source, target, filter_name, filter_data):
    import uno
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(source), "_blank", 0,
                                       props(Hidden=True, ReadOnly=True, UpdateDocMode=0))
    if doc is None:
        raise RuntimeError("LibreOffice could not open the document")
    try:
        store = {"FilterName": filter_name}
        if filter_data:
            store["FilterData"] = uno.Any("[]com.sun.star.beans.PropertyValue", props(**filter_data))
        doc.storeToURL(uno.systemPathToFileUrl(target), props(**store))
    finally:
        doc.close(True)


def leave(office_pid, folder):
    """Kill the office (POSIX: its process group) and remove its folder."""
    if os.name == "posix":
        try:
            os.killpg(office_pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)


def watch_parent(parent, office_pid, folder):
    """Leave once the app that started us has gone, even mid-conversion (POSIX)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    leave(office_pid, folder)
    os._exit(0)


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    pipe_name, seconds, office_pid, folder = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    parent = os.getppid()
    if os.name == "posix":
        threading.Thread(target=watch_parent, args=(parent, office_pid, folder), daemon=True).start()
    try:
        return serve(pipe_name, seconds)
    finally:
        if os.getppid() != parent:  # the app has gone: nobody else cleans up
            leave(office_pid, folder)


def serve(pipe_name, seconds):
    try:
        desktop = connect(pipe_name, seconds)
    except Exception as e:
        answer({"ready": False, "error": f"{e.__class__.__name__}: {e}"})
        return 1
    answer({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            Path(request["target"]).unlink(missing_ok=True)
            convert(desktop, request["source"], request["target"], request["filter"], request.get("filter_data"))
            answer({"ok": True})
        except Exception as e:  # the office died or refused the file: say so, then let the app decide
            answer({"ok": False, "error": f"{e.__class__.__name__}: {e}"})
            if e.__class__.__name__ in ("DisposedException", "RuntimeException"):
                return 1
    # stdin closed: the app has gone (even without stopping us), so the office goes too.
    try:
        desktop.terminate()
    except Exception:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
