"""Start pbforms: `python app.py` serves on port 8000; `--demo` fills a demo township first.

The server is waitress with at most 1000 open connections (500 on Windows,
where select() takes about 512 sockets) and 16 threads; a connection past
the limit gets a quick 503 page. The numbers and why: pbforms/server.py.
"""
import argparse
import os

from pbforms import backup, create_app, server
from pbforms.db import db
from pbforms.documents import pdf

app = create_app()


def main():
    parser = argparse.ArgumentParser(description="党建述职填报")
    parser.add_argument("--host", default=os.environ.get("PBFORMS_HOST"),
                        help="监听的地址（默认 0.0.0.0，即本机所有网卡；--demo 时默认 127.0.0.1，只有本机能打开）")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PBFORMS_PORT", "8000")))
    parser.add_argument("--demo", action="store_true", help="首次运行时填入演示数据（青泥镇及其村）")
    parser.add_argument("--connection-limit", type=int, default=server.CONNECTION_LIMIT,
                        help=f"同时打开的连接数上限，超出的连接立即得到“服务器繁忙”页面（默认 {server.CONNECTION_LIMIT}）")
    parser.add_argument("--threads", type=int, default=server.THREADS,
                        help=f"同时处理的请求数（默认 {server.THREADS}）")
    args = parser.parse_args()
    # The demo's passwords are public (README): unless told otherwise, only this machine reaches it.
    host = args.host or ("127.0.0.1" if args.demo else "0.0.0.0")

    if args.demo:
        from pbforms import demo

        with db.connection_context():
            created = demo.fill_demo()
        print("演示数据已创建。" if created else "数据库中已有单位，未重复创建演示数据。")
        print("演示账号（用户名 / 密码）：")
        for username, password, what in demo.accounts():
            print(f"  {username:<12} {password:<14} {what}")

    backup.start_daily()  # a copy a day into backups/ beside the database (pbforms/backup.py)
    pdf.exit_on_sigterm()  # a `kill` leaves no LibreOffice behind
    pdf.warm_up()  # LibreOffice, where installed, starts now rather than on the first preview

    print(f"党建述职填报 已启动：http://{'localhost' if host == '0.0.0.0' else host}:{args.port}/")
    server.serve(app, host, args.port, args.connection_limit, args.threads)


if __name__ == "__main__":
    main()
