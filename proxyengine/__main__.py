"""``python -m proxyengine --config PATH [--workers N] [--no-fork]``: run the traffic manager's engine."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys

from .config import ConfigError, load_config


def run_single(path: str) -> int:
    """One process, no master: the engine serves the control socket itself (debugging, small installs)."""
    from .control import serve_control
    from .engine import Engine
    from .worker import new_event_loop

    try:
        cfg = load_config(path)
    except ConfigError as e:
        print(f"proxyengine: {e}", file=sys.stderr)
        return 2
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    engine = Engine(loop, config_path=path)
    stop = loop.create_future()

    async def main():
        await engine.start(cfg)
        server = await serve_control(cfg.node.control_socket, engine.handle)
        gc.collect()
        gc.freeze()
        loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(0))
        loop.add_signal_handler(signal.SIGINT, lambda: stop.done() or stop.set_result(0))
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(engine.handle({"cmd": "reload"})))
        await stop
        server.close()
        await engine.stop()

    loop.run_until_complete(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m proxyengine", description=__doc__)
    ap.add_argument("--config", required=True, help="engine.json written by the admin side")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: node.workers, 0 = per core)")
    ap.add_argument("--no-fork", action="store_true", help="run the engine in this process, without workers")
    ap.add_argument("--user", type=int, default=None, help="uid the workers run as (the master keeps root)")
    ap.add_argument("--group", type=int, default=None, help="gid the workers run as")
    args = ap.parse_args(argv)
    if args.no_fork:
        return run_single(args.config)
    from .master import main_master

    run_as = (args.user, args.group if args.group is not None else args.user) if args.user is not None else None
    return main_master(args.config, args.workers, run_as)


if __name__ == "__main__":
    sys.exit(main())
