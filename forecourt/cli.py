"""forecourt: one command for every service.

  forecourt demo                         a whole simulated station with everything it needs
  forecourt edge --station FILE.yaml     the station's edge node (devices → Sparkplug B)
  forecourt ingest                       Sparkplug B → PostgreSQL
  forecourt business                     business events (fuelling transactions …) → PostgreSQL
  forecourt api                          the control API (REST, WebSocket)
  forecourt sim dispenser …              a fuel dispenser simulator (Modbus TCP)
  forecourt sim station FILE.yaml        a whole simulated station: traffic and faults (docs/simulators.md)
  forecourt sim card-reader …            IC card readers over TCP (docs/protocols/card-reader.md)
  forecourt db migrate                   apply database migrations
  forecourt infra                        only the database and broker, to run services one by one
  forecourt mqtt-auth --stations … --out DIR   MQTT users, ACL and mosquitto.conf for the edge nodes
  forecourt grafana build | sync --url URL --token TOKEN   dashboards as code (docs/grafana.md)
  forecourt settings                     every FORECOURT_* setting with its default and meaning
  forecourt vision serve --station FILE  read the lane cameras, publish vehicle.recognized (docs/vision.md)
  forecourt vision eval plates DIR       plate reading measured on a labelled folder (docs/vision.md)
  forecourt vision eval faces DIR        face figures (EER, TAR at FAR, liveness) on a labelled folder

Settings come from FORECOURT_* environment variables (see README, "Configuration"), listed below.
A wrong setting, flag, file or busy port ends in one line naming it (exit code 2, or 1 when a
database, broker or port cannot be used), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from edge_nodes.station import StationConfigError
from forecourt.failures import check_data_dir, check_port_free
from forecourt.infra import Infrastructure
from forecourt.local import InfrastructureError
from forecourt.logs import configure_logging
from forecourt.runner import run_until_stopped
from forecourt.settings import Settings, SettingsError, load_settings, settings_table
from telemetry.contracts.identifiers import is_code

log = logging.getLogger("forecourt")


def _number(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a port from {low} to {high}, got {value}")
        return value
    return check


PORT = _number(1, 65535)
PORT_OR_FREE = _number(0, 65535)   # 0: one the system picks


def _station_code(text: str) -> str:
    if not is_code(text):
        raise argparse.ArgumentTypeError(f"expected a station code (1–32 lower-case letters, digits or '-'), "
                                         f"got {text[:40]!r}")
    return text


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def _file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="forecourt", description=__doc__,
                                epilog="settings (FORECOURT_* variables, default, meaning):\n" + settings_table(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-file", type=_file, help="read FORECOURT_* settings from this file as well")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="start a simulated station, broker, database, ingest and API",
                          description="Start everything for one simulated station and print where to look. "
                                      "Ctrl-C stops it all.")
    demo.add_argument("--api-port", type=PORT, help="control API port (default FORECOURT_API_PORT or 8000)")
    demo.add_argument("--every", type=_positive, default=20.0,
                      help="average seconds between vehicles at the pump (default 20)")

    edge = sub.add_parser("edge", help="run a station's edge node",
                          description="Poll the devices of one station and publish Sparkplug B over MQTT.")
    edge.add_argument("--station", type=_file, required=True, help="station YAML file (see config/stations/)")
    edge.add_argument("--metrics-port", type=PORT, help="port for /metrics and /healthz")

    ingest = sub.add_parser("ingest", help="run an ingest worker (Sparkplug B → PostgreSQL)",
                            description="Subscribe to the Sparkplug namespace and write every point to the database.")
    ingest.add_argument("--metrics-port", type=PORT, help="port for /metrics and /healthz")

    business = sub.add_parser("business", help="run the business event consumer (fuelling transactions …)",
                              description="Record business events (fuelling.completed …) from MQTT, each once.")
    business.add_argument("--metrics-port", type=PORT, help="port for /metrics and /healthz")
    business.add_argument("--station", type=_station_code,
                          help="a station server's own station code: its events only, on the station role's bus "
                               "(fuellings become orders; docs/orders.md)")

    alarms = sub.add_parser("alarms", help="run the alarm engine (rules, ISA-18.2 life cycle, alarm.* events)",
                            description="Evaluate what ingest committed against the alarm rules; publish alarm.* "
                                        "events; at head office copy the stations' alarms (docs/alarms.md).")
    alarms.add_argument("--metrics-port", type=PORT, help="port for /metrics and /healthz")
    alarms.add_argument("--station", type=_station_code,
                        help="a station server's own station code: evaluate its equipment only (station role)")

    api = sub.add_parser("api", help="run the control API", description="REST and WebSocket API on FastAPI.")
    api.add_argument("--host", help="listen address (default FORECOURT_API_HOST)")
    api.add_argument("--port", type=PORT, help="listen port (default FORECOURT_API_PORT)")

    sim = sub.add_parser("sim", help="run device simulators", description="Simulated station equipment.")
    sim_sub = sim.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    disp = sim_sub.add_parser("dispenser", help="a fuel dispenser over Modbus TCP (docs/protocols/dispenser-modbus.md)")
    disp.add_argument("--host", default="127.0.0.1")
    disp.add_argument("--port", type=PORT_OR_FREE, default=5020, help="listen port (default 5020; 0: a free one)")
    disp.add_argument("--config", type=_file, help="dispenser YAML (default: 2 fuelling points × 2 nozzles)")
    disp.add_argument("--auto-authorise", action="store_true", help="lifting a nozzle authorises at once")
    disp.add_argument("--speed", type=_positive, default=1.0, help="simulated seconds per real second")
    cards = sim_sub.add_parser("card-reader", help="IC card readers over TCP (docs/protocols/card-reader.md)")
    cards.add_argument("--host", default="127.0.0.1")
    cards.add_argument("--port", type=PORT_OR_FREE, default=7800, help="the readers' TCP port (default 7800)")
    cards.add_argument("--control-port", type=PORT, default=7801, help="the control API's port (default 7801)")
    cards.add_argument("--readers", default="pos-1,disp-01/1,disp-01/2", help="reader names, comma-separated")
    cards.add_argument("--issuer-key", default="00112233445566778899aabbccddeeff",
                       help="the cards' issuer key (hex; the demo's by default)")
    cards.add_argument("--card", action="append", default=[], metavar="CARD_NO=FEN", help="a card already loaded")
    station = sim_sub.add_parser("station", help="a whole simulated station from a scenario YAML (docs/simulators.md)")
    station.add_argument("file", type=_file, help="scenario file, e.g. config/scenarios/demo-station.yaml")
    station.add_argument("--speed", type=_positive, help="simulated seconds per real second (default: the file's)")
    station.add_argument("--seed", type=int, help="random seed of the traffic (default: the file's)")
    station.add_argument("--duration", type=_positive, help="simulated seconds to run (default: the file's)")

    vision = sub.add_parser("vision", help="plate and face recognition (docs/vision.md)",
                            description="The vision service and its tools (docs/vision.md).")
    vision_sub = vision.add_subparsers(dest="vision_command", required=True, metavar="ACTION")
    vserve = vision_sub.add_parser("serve", help="read the station's lane cameras and publish vehicle.recognized")
    vserve.add_argument("--station", type=_file, required=True,
                        help="station YAML whose devices include the cameras (protocol: camera)")
    vserve.add_argument("--metrics-port", type=PORT, help="port for /metrics and /healthz")

    stations = sub.add_parser("stations", help="station master data: import station files, generate and check them",
                              description="Station master data (business_services/stations, docs/architecture.md).")
    st_sub = stations.add_subparsers(dest="stations_command", required=True, metavar="ACTION")
    st_import = st_sub.add_parser("import", help="seed a station from its station YAML (once; again: no change)")
    st_import.add_argument("file", type=_file, help="station YAML, e.g. config/stations/demo.yaml")
    st_import.add_argument("--grades", default="", help="grade of nozzle 1, 2, … of every fuelling point, e.g. 92,95 "
                           "(92, 95, 98, 0, cng, lng); a tank is made for each")
    st_import.add_argument("--region", default="", help="the station's region (片区)")
    st_yaml = st_sub.add_parser("yaml", help="print the edge's station YAML generated from master data")
    st_yaml.add_argument("code", help="station code, e.g. demo-01")
    st_check = st_sub.add_parser("check", help="say where a station YAML in use differs from master data (exit 1)")
    st_check.add_argument("file", type=_file, help="the station YAML the edge node runs with")
    st_load = st_sub.add_parser("load", help="station role: hold the master-data list the edge node keeps on disk")
    st_load.add_argument("file", type=_file, help="e.g. .forecourt/edge/demo-01.master-data.json")

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("migrate", help="apply the numbered SQL migrations that are missing")

    audit = sub.add_parser("audit", help="audit chain tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    averify = audit_sub.add_parser("verify", help="recompute the audit chain's hashes; exit 1 naming the first "
                                                  "edited, deleted or inserted row")
    averify.add_argument("--from", dest="from_seq", type=int, default=1, help="start at this seq (a checkpoint)")
    averify.add_argument("--database-url", help="PostgreSQL URL (default: FORECOURT_DATABASE_URL)")
    averify.add_argument("--station", help="at head office: check the copy of this station server's chain")

    sub.add_parser("infra", help="start only the embedded database and broker and print their URLs",
                   description="Useful to run edge, ingest and api as separate processes: export the printed "
                               "variables in each shell.")

    auth = sub.add_parser("mqtt-auth", help="generate per-station MQTT users, the ACL and a mosquitto.conf snippet",
                          description="Write a Mosquitto password file, ACL and config snippet, and an env file per "
                                      "station and host service (docs/how-to/mqtt-security.md).")
    auth.add_argument("--stations", type=_file, nargs="+", required=True, metavar="FILE.yaml", help="station files")
    auth.add_argument("--out", type=Path, required=True, help="folder to write into (passwords found there are kept)")
    auth.add_argument("--group", help="Sparkplug group of stations that name none (default FORECOURT_GROUP)")
    auth.add_argument("--host-id", help="primary host id (default FORECOURT_PRIMARY_HOST_ID)")
    auth.add_argument("--broker-host", default="127.0.0.1", help="the broker's address as clients reach it")
    auth.add_argument("--port", type=PORT, help="listener port (default 1883, or 8883 with --tls-dir)")
    auth.add_argument("--tls-dir", type=_folder, help="folder with ca.crt, server.crt and server.key: listen with TLS")
    auth.add_argument("--bind", default="127.0.0.1", help="the one address the broker listens on (0.0.0.0: all)")
    auth.add_argument("--outbox-mb", type=int, help="each edge outbox's limit, which sizes the broker's queues "
                                                    "(default FORECOURT_EDGE_OUTBOX_MAX_MB)")
    auth.add_argument("--persistence-dir", type=Path,
                      help="where the broker saves its queues (default: the --out folder)")

    sub.add_parser("settings", help="list every FORECOURT_* setting with its default and meaning",
                   description="The settings Forecourt reads from the environment or --env-file.")

    grafana = sub.add_parser("grafana", help="Grafana dashboards as code (docs/grafana.md)")
    grafana_sub = grafana.add_subparsers(dest="grafana_command", required=True, metavar="ACTION")
    gbuild = grafana_sub.add_parser("build", help="write the dashboard JSON into grafana/provisioning/")
    gbuild.add_argument("--out", type=Path, help="folder for the JSON (default: the provisioning folder)")
    gsync = grafana_sub.add_parser("sync", help="push folder, datasource and dashboards to a Grafana")
    gsync.add_argument("--url", required=True, help="Grafana's root URL, e.g. http://grafana.example:3000")
    gsync.add_argument("--token", required=True, help="a service account token (Admin to write the datasource)")
    gsync.add_argument("--folder", default="Forecourt 加油站", help="folder title (created if missing)")
    gsync.add_argument("--database-url", help="PostgreSQL URL as Grafana reaches it (default FORECOURT_DATABASE_URL)")
    gsync.add_argument("--no-datasource", action="store_true", help="leave the datasource in Grafana as it is")

    veval = vision_sub.add_parser("eval", help="measure a pipeline on a labelled folder")
    veval_sub = veval.add_subparsers(dest="vision_eval", required=True, metavar="PIPELINE")
    vplates = veval_sub.add_parser("plates", help="plates: DIR/labels.csv (file,plate,color,kind) or crops "
                                   "named by their plate text")
    vplates.add_argument("directory", type=Path, metavar="DIR")
    vplates.add_argument("--threshold", type=float, default=None, help="lowest character probability of a "
                         "certain reading (default: the reader's)")
    vfaces = veval_sub.add_parser("faces", help="faces: DIR/labels.csv (file,identity): faces found, EER, TAR at "
                                  "FAR 1 %% and 0.1 %%, liveness errors, latency p50/p99")
    vfaces.add_argument("directory", type=_folder, metavar="DIR")
    return p


def _listen_ports(args: argparse.Namespace, settings: Settings) -> list[tuple[str, int, str]]:
    """The ports this command will listen on: (host, port, the flag or setting that chooses it)."""
    def metrics(name: str, default: int) -> tuple[str, int, str]:
        return settings.metrics_host, args.metrics_port or default, f"--metrics-port or FORECOURT_{name}_METRICS_PORT"

    if args.command == "api":
        return [(args.host or settings.api_host, args.port or settings.api_port, "--port or FORECOURT_API_PORT")]
    if args.command == "demo":
        return [(settings.api_host, args.api_port or settings.api_port, "--api-port or FORECOURT_API_PORT"),
                (settings.metrics_host, settings.edge_metrics_port, "FORECOURT_EDGE_METRICS_PORT"),
                (settings.metrics_host, settings.ingest_metrics_port, "FORECOURT_INGEST_METRICS_PORT"),
                (settings.metrics_host, settings.business_metrics_port, "FORECOURT_BUSINESS_METRICS_PORT"),
                (settings.metrics_host, settings.vision_metrics_port, "FORECOURT_VISION_METRICS_PORT")]
    if args.command in ("edge", "ingest", "business", "alarms"):
        return [metrics(args.command.upper(), getattr(settings, f"{args.command}_metrics_port"))]
    if args.command == "vision" and args.vision_command == "serve":
        return [metrics("VISION", settings.vision_metrics_port)]
    if args.command == "sim" and args.simulator == "dispenser":
        return [(args.host, args.port, "--port")]
    if args.command == "sim" and args.simulator == "card-reader":
        return [(args.host, args.port, "--port"), (args.host, args.control_port, "--control-port")]
    return []


def _check_dispenser_file(path: Path) -> None:
    """``sim dispenser --config FILE``: a file that is not UTF-8, not YAML or not a dispenser is named in one line."""
    import yaml
    from pydantic import ValidationError

    from forecourt.simulate import dispenser_config

    try:
        dispenser_config(path)
    except UnicodeDecodeError as exc:
        raise StationConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise StationConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors())
        raise StationConfigError(f"{path}: {problems}") from None


async def _main(args: argparse.Namespace, settings: Settings) -> None:
    for host, port, set_by in _listen_ports(args, settings):
        check_port_free(host, port, set_by)
    if args.command == "edge":   # the store-and-forward outbox lives in the data directory
        check_data_dir(Path(settings.data_dir))
    if args.command == "demo":
        from forecourt.demo import run_demo

        await run_demo(settings, api_port=args.api_port or settings.api_port, every_s=args.every)
    elif args.command == "edge":
        from forecourt.services import edge_service

        async with Infrastructure(settings, database=False) as infra:
            await run_until_stopped(edge_service(settings, args.station, infra.broker, args.metrics_port))
    elif args.command == "ingest":
        from forecourt.services import ingest_service

        async with Infrastructure(settings) as infra:
            await run_until_stopped(ingest_service(settings, infra.database_url, infra.broker, args.metrics_port))
    elif args.command == "business":
        from forecourt.services import business_service, price_set_path, station_business_service
        from forecourt.station_prices import follow_price_set

        async with Infrastructure(settings) as infra:
            if args.station:   # beside it, the price set its edge node keeps on disk (the edge runs on this box)
                await run_until_stopped(station_business_service(settings, infra.database_url, infra.broker,
                                                                 args.station),
                                        follow_price_set(infra.database_url, price_set_path(settings, args.station)))
            else:
                await run_until_stopped(business_service(settings, infra.database_url, infra.broker,
                                                         args.metrics_port))
    elif args.command == "alarms":
        from forecourt.alarms import alarms_service

        async with Infrastructure(settings) as infra:
            await run_until_stopped(alarms_service(settings, infra.database_url, infra.broker, args.station,
                                                   args.metrics_port))
    elif args.command == "api":
        from forecourt.ic_cards import psam
        from forecourt.roles import Role
        from forecourt.services import api_service, messaging_config, mini_program, station_providers, token_issuer

        async with Infrastructure(settings) as infra:
            host, port = args.host or settings.api_host, args.port or settings.api_port
            print(f"控制 API: http://{host}:{port}/docs", flush=True)
            await run_until_stopped(api_service(infra.database_url, host, port, infra.broker, settings.group,
                                                token_issuer(settings), Role(settings.role),
                                                station_providers(settings, infra.database_url),
                                                ic_psam=psam(settings), wechat_mini=mini_program(settings),
                                                messaging=messaging_config(settings)))
    elif args.command == "sim" and args.simulator == "card-reader":
        from simulators.card_reader.__main__ import cards_from, run_card_readers

        await run_until_stopped(run_card_readers(args.host, args.port, args.control_port, args.readers.split(","),
                                                 bytes.fromhex(args.issuer_key), cards_from(args.card)))
    elif args.command == "vision" and args.vision_command == "serve":
        from forecourt.services import vision_service

        async with Infrastructure(settings, database=False) as infra:
            await run_until_stopped(vision_service(settings, args.station, infra.broker, args.metrics_port))
    elif args.command == "sim" and args.simulator == "station":
        from forecourt.simulate import run_station

        await run_until_stopped(run_station(args.file, args.speed, args.seed, args.duration))
    elif args.command == "sim":
        from forecourt.simulate import run_dispenser

        if args.config is not None:
            _check_dispenser_file(args.config)
        await run_until_stopped(run_dispenser(args.config, args.host, args.port, auto_authorise=args.auto_authorise,
                                              speed=args.speed))
    elif args.command == "db":
        async with Infrastructure(settings, broker=False):
            pass
    elif args.command == "infra":
        async with Infrastructure(settings) as infra:
            print(f"export FORECOURT_DATABASE_URL={infra.database_url}\n"
                  f"export FORECOURT_MQTT_URL={infra.broker.url()}\n"
                  f"export FORECOURT_MQTT_V5={'true' if infra.broker.mqtt5 else 'false'}\n"
                  "# Ctrl-C 停止 (stops both)", flush=True)
            await run_until_stopped()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(settings_table())
        return 0
    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        print(f"配置错误 (settings error): {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if args.command == "grafana":     # files or HTTP calls to Grafana: no event loop, no infrastructure
        from grafana.command import build_command, sync_command

        if args.grafana_command == "build":
            return build_command(args.out)
        return sync_command(args.url, args.token, folder=args.folder, with_datasource=not args.no_datasource,
                            database_url=args.database_url or settings.database_url)
    if args.command == "vision" and args.vision_command == "eval" and args.vision_eval == "plates":
        from forecourt.extras import MissingExtra, require

        try:
            require("onnxruntime", "forecourt vision")
            require("cv2", "forecourt vision")
        except MissingExtra as exc:
            print(f"无法评估 (cannot evaluate): {exc}", file=sys.stderr)
            return 2
        from vision.command import eval_plates_command

        return eval_plates_command(settings, args.directory, args.threshold)
    if args.command == "vision" and args.vision_command == "eval" and args.vision_eval == "faces":
        from vision.faces.evaluation import faces_command

        return faces_command(args.directory, settings)
    if args.command == "audit":       # reads the database it is given: no infrastructure started
        from business_services.audit.command import verify_command

        return verify_command(args.database_url or settings.database_url, args.from_seq, args.station)
    if args.command == "mqtt-auth":   # only writes files: no event loop, no infrastructure
        from forecourt.mqtt_security import Listener, mqtt_auth_command

        return mqtt_auth_command(args.stations, args.out, group=args.group or settings.group,
                                 host_id=args.host_id or settings.primary_host_id or "forecourt",
                                 listener=Listener(args.broker_host, args.port, args.tls_dir, args.bind),
                                 outbox_bytes=(args.outbox_mb or settings.edge_outbox_max_mb) * 1024 * 1024,
                                 persistence_dir=args.persistence_dir)
    if args.command == "stations":    # the database only; its own exit codes (1: differs, 2: a rule broken)
        from forecourt.stations import stations_command

        async def stations() -> int:
            async with Infrastructure(settings, broker=False) as infra:
                return await stations_command(args, infra.database_url, settings.group)
        try:
            return asyncio.run(stations())
        except (StationConfigError, InfrastructureError) as exc:
            print(f"无法完成 (cannot do it): {exc}", file=sys.stderr)
            return 2
    try:
        asyncio.run(_main(args, settings))
    except KeyboardInterrupt:
        return 130
    except StationConfigError as exc:
        print(f"站点配置错误 (station file error): {exc}", file=sys.stderr)
        return 2
    except InfrastructureError as exc:
        print(f"无法启动 (cannot start): {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # taken between the check at start and the service binding it
        print(f"无法启动 (cannot start): 端口已被占用 (a port is in use): {exc}; see `forecourt settings`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
