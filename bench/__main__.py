"""`python -m bench` (`make bench`): the dashboards under production-like load.

Seeds 10 programs x 50 trainees x 300 cases into PostgreSQL (once; `--reseed` forces it), serves the app with
gunicorn and the production settings, and measures with wrk: the director dashboard of a 50-trainee program, a
trainee dashboard, and the trivial authenticated endpoint `/api/v1/` as the yardstick, plus a case-log create and a
batch sign-off of 20 entries (POST /api/v1/case-logs/sign-batch/), repeated. Then the verification dossier (issue 10,
bench/dossier.py): end to end, snapshot and bare WeasyPrint render for 300 and 1,500 signed entries (`--no-dossier`
skips it, `--only dossier` runs only it). Results go to bench/results/<UTC timestamp>.json and
bench/results/latest.md. See bench/README.md for how to read them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "tmp" / "bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/trainingportal_bench"
# Signs the bench's own session cookies; the server and this process must agree on it. Not used anywhere else.
SECRET_KEY = "bench-only-not-secret-4Jx9Qv2Lm7Rt5Wz8Kp3Nb6Hc1Yd0Fg"
TARGETS_MS = {"director_dashboard": 150.0, "trainee_dashboard": 80.0}
POST_PREFIX = "BPOST"

LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"p50": %d, "p75": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def main() -> int:
    args = _parse_args()
    database_url = _database_url()
    _ensure_database(database_url)
    env = _server_env(database_url, args)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"Database: {_redact(database_url)}")
    call_command("migrate", interactive=False, verbosity=0)
    data = _ensure_data(args)
    http_section = args.only in (None, "http")
    dossier_section = args.only == "dossier" or (args.only is None and not args.no_dossier)
    restore_section = args.only == "restore" or (args.only is None and not args.no_restore)
    load_before = [round(x, 2) for x in os.getloadavg()]
    report: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sections": [
            name
            for name, on in (("http", http_section), ("dossier", dossier_section), ("restore", restore_section))
            if on
        ],
        "results": {},
        "writes": {},
        "notes": [],
    }
    if http_section:
        call_command("collectstatic", interactive=False, verbosity=0)
        subjects = _subjects(args)
        sessions = {name: _session_for(user) for name, user in subjects["users"].items()}
        server = None
        try:
            server = _start_gunicorn(env, args)
            report |= _measure(args, subjects, sessions)
        finally:
            if server is not None:
                _stop(server)
            _cleanup(subjects, sessions)
        report["server"] = {
            "command": " ".join(_gunicorn_command(args)),
            "settings": env["DJANGO_SETTINGS_MODULE"],
            "conn_max_age": int(env["CONN_MAX_AGE"]),
        }
    if dossier_section:
        # After the server has stopped, so the renders have the machine to themselves (as far as this run goes).
        from bench import dossier

        report["dossier"] = dossier.run(args, WORK)
    if restore_section:
        # The documented backup (pg_dump + a tar of the media) restored into a new database and directory, compared.
        from django.conf import settings

        from bench import restore

        print("Backup and restore round trip ...", flush=True)
        report["restore"] = restore.round_trip(database_url, Path(settings.MEDIA_ROOT), WORK / "restore")
    report["data"] = data
    report["machine"] = {**_machine(), "load_average_before": load_before}
    _write(report)
    return 0


# --- set-up -------------------------------------------------------------------------------------------------------


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help="Re-create the bench data even if it is there.")
    parser.add_argument("--programs", type=int, default=10)
    parser.add_argument("--trainees-per-program", type=int, default=50)
    parser.add_argument("--cases-per-trainee", type=int, default=300)
    parser.add_argument("--duration", type=int, default=15, help="Seconds per measurement (default 15).")
    parser.add_argument("--connections", type=int, default=4, help="Connections for the throughput run.")
    parser.add_argument("--port", type=int, default=8800)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=int(os.environ.get("CONN_MAX_AGE", 60)),
        help="Database connection reuse in seconds (production settings default: 60; 0 opens one per request).",
    )
    parser.add_argument("--skip-writes", action="store_true", help="Measure the GET endpoints only.")
    parser.add_argument(
        "--only",
        choices=["http", "dossier", "restore"],
        help="Run one section: http (dashboards, API, writes under gunicorn), dossier (the PDF dossier) or restore "
        "(the backup and restore round trip).",
    )
    parser.add_argument("--no-dossier", action="store_true", help="Skip the dossier section.")
    parser.add_argument("--no-restore", action="store_true", help="Skip the backup and restore round trip.")
    parser.add_argument(
        "--dossier-sizes",
        default="300,1500",
        help="Signed entries of the dossier subjects, comma-separated (default 300,1500).",
    )
    parser.add_argument(
        "--dossier-repeat", type=int, default=2, help="Repetitions per dossier size; the median is reported."
    )
    parser.add_argument(
        "--dossier-no-memory",
        action="store_true",
        help="Skip the render's peak-memory measurement (one more bare render per size, in a separate process).",
    )
    return parser.parse_args()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return url
    if url:
        print(f"DATABASE_URL is not PostgreSQL ({url.split(':', 1)[0]}); the benchmark uses {DEFAULT_DATABASE_URL}")
    return DEFAULT_DATABASE_URL


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urllib.parse.urlunsplit(parts)


def _ensure_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(
        dbname="postgres",
        user=urllib.parse.unquote(parts.username or "postgres"),
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                print(f"Creating database {name}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def _server_env(database_url: str, args: argparse.Namespace) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "trainingportal.settings.production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "SECURE_SSL_REDIRECT": "false",
        "CONN_MAX_AGE": str(args.conn_max_age),
        "STATIC_ROOT": str(WORK / "static"),
        "MEDIA_ROOT": str(WORK / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        # Production requires Redis (broker and shared cache): a database of its own for the bench. The bench never
        # waits on a worker: the dossier section calls the task function itself.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    }


def _bench_counts() -> dict[str, int]:
    from cases.models import Case, CaseLogEntry
    from demo.management.commands.seed_bench import bench_programs, bench_users
    from trainees.models import Enrollment
    from training.models import TrainingSession

    programs = bench_programs()
    return {
        "programs": programs.count(),
        "users": bench_users().count(),
        "enrollments": Enrollment.objects.filter(program__in=programs).count(),
        "cases": Case.objects.filter(program__in=programs).count(),
        "entries": CaseLogEntry.objects.filter(enrollment__program__in=programs).count(),
        "sessions": TrainingSession.objects.filter(program__in=programs).count(),
    }


def _ensure_data(args: argparse.Namespace) -> dict:
    from django.core.management import call_command

    want = {
        "programs": args.programs,
        "enrollments": args.programs * args.trainees_per_program,
        "entries": args.programs * args.trainees_per_program * args.cases_per_trainee,
    }
    counts = _bench_counts()
    seed_seconds = None
    if args.reseed or any(counts[k] != v for k, v in want.items()):
        print(f"Seeding {args.programs} x {args.trainees_per_program} x {args.cases_per_trainee} (was: {counts})")
        started = time.perf_counter()
        call_command(
            "seed_bench",
            programs=args.programs,
            trainees_per_program=args.trainees_per_program,
            cases_per_trainee=args.cases_per_trainee,
            reset=True,
        )
        seed_seconds = round(time.perf_counter() - started, 1)
        counts = _bench_counts()
    else:
        print(f"Bench data already there: {counts}")
    return {
        **counts,
        "trainees_per_program": args.trainees_per_program,
        "cases_per_trainee": args.cases_per_trainee,
        "seed_seconds": seed_seconds,
    }


def _subjects(args: argparse.Namespace) -> dict:
    """The first bench program (all programs have the same size), its director, one trainee to read and another
    trainee (and their mentor) to write, so the writes do not change what the read measurements see."""
    from demo.management.commands.seed_bench import bench_email
    from trainees.models import Enrollment

    enrollments = Enrollment.objects.select_related("program__director", "trainee").filter(
        trainee__email__in=[bench_email(1, "t001"), bench_email(1, f"t{args.trainees_per_program:03d}")]
    )
    by_email = {e.trainee.email: e for e in enrollments}
    reader = by_email[bench_email(1, "t001")]
    writer = by_email.get(bench_email(1, f"t{args.trainees_per_program:03d}"), reader)
    program = reader.program
    return {
        "program": program,
        "reader": reader,
        "writer": writer,
        "users": {
            "director": program.director,
            "trainee": reader.trainee,
            "writer": writer.trainee,
            "mentor": writer.mentors.order_by("pk").first(),
        },
    }


def _session_for(user) -> str:
    """A signed-in session without the login form: what django.contrib.auth.login() and allauth would store."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    now = time.time()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    # allauth's record of how the session was authenticated (used for re-authentication prompts).
    methods = [{"method": "password", "at": now, "email": user.email}]
    if user.directed_programs.exists():
        methods.append({"method": "mfa", "at": now, "type": "totp", "id": None})
    session["account_authentication_methods"] = methods
    session.create()
    return session.session_key


def _gunicorn_command(args: argparse.Namespace) -> list[str]:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        gunicorn = Path(shutil.which("gunicorn") or "gunicorn")
    return [
        str(gunicorn),
        "trainingportal.wsgi:application",
        "-b",
        f"127.0.0.1:{args.port}",
        "-w",
        str(args.workers),
        "--threads",
        "1",
    ]


def _start_gunicorn(env: dict[str, str], args: argparse.Namespace) -> subprocess.Popen:
    if _get(args.port, "/healthz", {}) is not None:
        raise SystemExit(f"Something already answers on 127.0.0.1:{args.port}; stop it or pass --port.")
    server_env = dict(os.environ) | env
    with open(WORK / "gunicorn.log", "w") as log:
        server = subprocess.Popen(
            _gunicorn_command(args),
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {WORK / 'gunicorn.log'}")
        response = _get(args.port, "/healthz", {})
        if response is not None and response[0] == 200:
            print(f"gunicorn up (pid {server.pid}): /healthz {response[1][:120].decode(errors='replace')}")
            return server
        time.sleep(0.25)
    _stop(server)
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; see {WORK / 'gunicorn.log'}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    print(f"gunicorn stopped (pid {server.pid})")


def _cleanup(subjects: dict, sessions: dict[str, str]) -> None:
    """Forget the bench sessions and whatever the write measurements created."""
    from django.contrib.sessions.models import Session

    from cases.models import Case, CaseLogEntry
    from trainingportal.core.models import AuditEvent

    Session.objects.filter(session_key__in=sessions.values()).delete()
    program = subjects["program"]
    entries = CaseLogEntry.objects.filter(case__program=program, case__reference__startswith=f"{POST_PREFIX}-")
    ids = [str(pk) for pk in entries.values_list("pk", flat=True)]
    AuditEvent.objects.filter(object_type="cases.caselogentry", object_id__in=ids).delete()
    entries.delete()
    cases = Case.objects.filter(program=program, reference__startswith=f"{POST_PREFIX}-")
    Case.categories.through.objects.filter(case__in=cases).delete()
    cases.delete()


# --- HTTP ---------------------------------------------------------------------------------------------------------


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict] | None:
    return _request(port, "GET", path, headers)


def _request(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    except OSError:
        return None
    finally:
        conn.close()


def _cookie(session_key: str, csrf: str | None = None) -> str:
    from django.conf import settings

    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    if csrf:
        cookie += f"; {settings.CSRF_COOKIE_NAME}={csrf}"
    return cookie


def _query_count(path: str, session_key: str) -> int | None:
    """Queries one request makes, counted in-process with the test client against the same database."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return len(queries) if response.status_code == 200 else None


def _wrk(url: str, headers: dict[str, str], duration: int, connections: int, script: str) -> dict:
    script_path = WORK / f"wrk-{os.getpid()}.lua"
    script_path.write_text(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", str(script_path)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
        "rps": round(raw["requests"] / seconds, 1),
        **{p: round(raw[p] / 1000, 2) for p in ("p50", "p75", "p90", "p99", "max")},
        "mean": round(raw["mean"] / 1000, 2),
        "tool": "wrk",
    }


def _python_load(port: int, path: str, headers: dict[str, str], duration: int, connections: int) -> dict:
    """Fallback when wrk is not installed: keep-alive connections in threads, same statistics."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status < 400
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append((time.perf_counter() - started) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rps": round(len(latencies) / seconds, 1),
        "p50": round(q[49], 2),
        "p75": round(q[74], 2),
        "p90": round(q[89], 2),
        "p99": round(q[98], 2),
        "max": round(max(latencies), 2),
        "mean": round(statistics.fmean(latencies), 2),
        "tool": "python",
    }


# --- measurements -------------------------------------------------------------------------------------------------


def _measure(args: argparse.Namespace, subjects: dict, sessions: dict[str, str]) -> dict:
    from django.urls import NoReverseMatch, reverse

    port = args.port
    notes: list[str] = []
    program, reader = subjects["program"], subjects["reader"]
    director_cookie = {"Cookie": _cookie(sessions["director"])}
    trainee_cookie = {"Cookie": _cookie(sessions["trainee"])}

    try:
        director_path = reverse("programs:dashboard", args=[program.pk])
    except NoReverseMatch:
        director_path = None
    if director_path is None or (_get(port, director_path, director_cookie) or [None])[0] != 200:
        fallback = reverse("programs:detail", args=[program.pk])
        notes.append(
            f"The director dashboard (programs:dashboard) is not available yet "
            f"({'no such URL' if director_path is None else director_path + ' did not answer 200'}); "
            f"measured the program page {fallback} instead."
        )
        director_path = fallback
    targets = [
        ("director_dashboard", "director", director_path, director_cookie),
        ("trainee_dashboard", "trainee", reverse("trainees:progress", args=[reader.pk]), trainee_cookie),
        ("api_root_director", "director", "/api/v1/", director_cookie),
        ("api_root_trainee", "trainee", "/api/v1/", trainee_cookie),
    ]
    for name, _, path, headers in targets:
        response = _get(port, path, headers)
        if response is None or response[0] != 200:
            status = response[0] if response else "no answer"
            location = response[2].get("Location", "") if response else ""
            raise SystemExit(f"{name}: GET {path} answered {status} {location}; see {WORK / 'gunicorn.log'}")

    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        notes.append("wrk is not installed: measured with the built-in Python load generator instead.")

    def load(path, headers, connections, duration):
        if use_wrk:
            return _wrk(f"http://127.0.0.1:{port}{path}", headers, duration, connections, LUA_DONE)
        return _python_load(port, path, headers, duration, connections)

    print("Warming up ...")
    for _, _, path, headers in targets:
        load(path, headers, 1, 3)

    results = {}
    for name, who, path, headers in targets:
        print(f"Measuring {name} ({path}) ...")
        single = load(path, headers, 1, args.duration)
        parallel = load(path, headers, args.connections, args.duration)
        results[name] = {
            "path": path,
            "user": who,
            "queries": _query_count(path, sessions[who]),
            "c1": single,
            f"c{args.connections}": parallel,
        }
    for name, who, _, _ in targets:
        baseline = results[f"api_root_{who}"]["c1"]["p50"]
        results[name]["ratio_to_api_root"] = round(results[name]["c1"]["p50"] / baseline, 1) if baseline else None
    for name, target in TARGETS_MS.items():
        results[name]["target_p50_ms"] = target
        results[name]["target_met"] = results[name]["c1"]["p50"] <= target

    writes = {} if args.skip_writes else _measure_writes(args, subjects, sessions, use_wrk, notes)
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": args.duration,
        "connections": args.connections,
        "program": {"id": program.pk, "name": program.name},
        "enrollment": reader.pk,
        "results": results,
        "writes": writes,
        "notes": notes,
    }


def _measure_writes(args, subjects: dict, sessions: dict[str, str], use_wrk: bool, notes: list[str]) -> dict:
    """POST /api/v1/case-logs/ as a trainee (each request a new case), then a mentor signs 20 of those entries."""
    from django.middleware.csrf import _get_new_csrf_string

    port = args.port
    mentor = subjects["users"]["mentor"]
    csrf = _get_new_csrf_string()
    run = datetime.now(UTC).strftime("%H%M%S")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    body = {
        "reference": f"{POST_PREFIX}-{run}-%d",
        "source": "center_archive",
        "complete_study": True,
        "indication": "Heart failure with reduced ejection fraction, aetiology",
        "categories": ["cardiomyopathy", "ventricular-function"],
        "performed_on": yesterday,
        "roles": ["interpreted", "post_processed"],
        "delivery": "in_person",
        "supervising_mentor": mentor.pk,
        "findings": "Dilated LV with global hypokinesia; linear mid-wall septal LGE.",
        "impression": "Non-ischaemic dilated cardiomyopathy with septal mid-wall fibrosis.",
        "key_measurements": "LVEF 31 percent, LV EDVi 128 ml/m2",
        "submit": True,
    }
    headers = {
        "Cookie": _cookie(sessions["writer"], csrf),
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
    }
    path = "/api/v1/case-logs/"
    first = _request(port, "POST", path, headers, json.dumps(body).replace("%d", "0").encode())
    if first is None or first[0] != 201:
        notes.append(f"POST {path} answered {first[0] if first else 'nothing'}: {first[1][:300] if first else ''}")
        return {}
    writes: dict = {}
    if use_wrk:
        template = json.dumps(body)
        script = (
            "local counter = 0\n"
            'wrk.method = "POST"\n'
            "request = function()\n"
            "  counter = counter + 1\n"
            f"  return wrk.format(nil, nil, nil, string.format([==[{template}]==], counter))\n"
            "end\n" + LUA_DONE
        )
        print("Measuring case_log_create (POST /api/v1/case-logs/) ...")
        result = _wrk(f"http://127.0.0.1:{port}{path}", headers, max(5, args.duration // 2), 1, script)
        writes["case_log_create"] = {"path": path, "user": "trainee", "c1": result}
    else:
        notes.append("case_log_create needs wrk (one new case per request); skipped.")

    from cases.models import CaseLogEntry

    to_sign = list(
        CaseLogEntry.objects.filter(
            enrollment=subjects["writer"],
            status=CaseLogEntry.Status.SUBMITTED,
            case__reference__startswith=f"{POST_PREFIX}-",
        ).values_list("pk", flat=True)[:200]
    )
    batches = [to_sign[i : i + 20] for i in range(0, len(to_sign) - 19, 20)]
    mentor_session = sessions["mentor"]
    sign_headers = {
        "Cookie": _cookie(mentor_session, csrf),
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
    }
    timings, failures = [], 0
    print(f"Signing {len(batches)} batches of 20 entries as the mentor (POST /api/v1/case-logs/sign-batch/) ...")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for batch in batches:
            started = time.perf_counter()
            conn.request(
                "POST",
                "/api/v1/case-logs/sign-batch/",
                body=json.dumps({"ids": batch, "feedback": "Agree. Systematic report."}),
                headers=sign_headers,
            )
            response = conn.getresponse()
            payload = response.read()
            timings.append((time.perf_counter() - started) * 1000)
            failures += response.status != 200 or len(json.loads(payload or b"{}").get("signed", [])) != len(batch)
    finally:
        conn.close()
    if timings:
        timings.sort()
        writes["sign_batch"] = {
            "path": "/api/v1/case-logs/sign-batch/",
            "user": "mentor",
            "count": len(timings),
            "errors": failures,
            "total_ms": round(sum(timings), 1),
            "p50": round(statistics.median(timings), 2),
            "p90": round(timings[int(0.9 * (len(timings) - 1))], 2),
            "max": round(timings[-1], 2),
        }
    else:
        notes.append("Fewer than 20 entries were created, so no batch of 20 was signed.")
    return writes


# --- report -------------------------------------------------------------------------------------------------------


def _machine() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    import django

    return {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgres": postgres,
        "wrk": shutil.which("wrk") is not None,
    }


def _table(report: dict) -> str:
    conns = report["connections"]
    lines = [
        f"| measurement | path | queries | p50 ms | p90 ms | p99 ms | req/s (1 conn) | req/s ({conns} conn) "
        f"| p50 ÷ /api/v1/ | target p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        c1, cn = r["c1"], r[f"c{conns}"]
        target = ""
        if "target_p50_ms" in r:
            target = f"≤ {r['target_p50_ms']:.0f} ms {'met' if r['target_met'] else '**missed**'}"
        errors = f" ({c1['errors'] + cn['errors']} errors)" if c1["errors"] + cn["errors"] else ""
        lines.append(
            f"| {name}{errors} | `{r['path']}` | {r['queries'] if r['queries'] is not None else '?'} | {c1['p50']} "
            f"| {c1['p90']} | {c1['p99']} | {c1['rps']} | {cn['rps']} | {r['ratio_to_api_root']} | {target} |"
        )
    writes = report.get("writes") or {}
    if "case_log_create" in writes:
        c1 = writes["case_log_create"]["c1"]
        errors = f" ({c1['errors']} errors)" if c1["errors"] else ""
        lines.append(
            f"| case_log_create{errors} | `POST {writes['case_log_create']['path']}` | | {c1['p50']} | {c1['p90']} "
            f"| {c1['p99']} | {c1['rps']} | | | |"
        )
    if "sign_batch" in writes:
        s = writes["sign_batch"]
        errors = f" ({s['errors']} errors)" if s["errors"] else ""
        lines.append(
            f"| sign_batch_of_20: {s['count']} batches{errors} | `POST {s['path']}` | | {s['p50']} "
            f"| {s['p90']} | max {s['max']} | | | | |"
        )
    return "\n".join(lines)


def _write(report: dict) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = RESULTS / f"{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    m, d = report["machine"], report["data"]
    seeded = f", seeded in {d['seed_seconds']} s" if d.get("seed_seconds") else ""
    lines = [
        f"# Benchmark {stamp}",
        "",
        f"- Sections: {', '.join(report['sections'])}",
        f"- Machine: {m['cpu_count']} CPUs, load average {m['load_average_before']} before and "
        f"{m['load_average']} after the run, {m['platform']}",
        f"- Python {m['python']}, Django {m['django']}, PostgreSQL {m['postgres']}",
        f"- Data: {d['programs']} programs, {d['enrollments']} enrollments ({d['trainees_per_program']} per "
        f"program), {d['cases']:,} cases, {d['entries']:,} log entries, {d['sessions']} sessions{seeded}",
    ]
    if "server" in report:
        lines += [
            f"- Server: `{report['server']['command']}` with {report['server']['settings']}, "
            f"CONN_MAX_AGE={report['server']['conn_max_age']}",
            f"- Subject: {report['program']['name']} (program {report['program']['id']}, "
            f"{d['trainees_per_program']} trainees), enrollment {report['enrollment']} ({d['cases_per_trainee']}-case log)",
            f"- Each measurement: {report['duration_s']} s with 1 connection (latency = server time, no queueing), "
            f"then {report['duration_s']} s with {report['connections']} connections (throughput); "
            f"tool: {'wrk' if m['wrk'] else 'Python'}",
            "",
            _table(report),
        ]
    if "dossier" in report:
        from bench import dossier

        section = report["dossier"]
        memory = f" Render memory: {section['memory_method']}." if section["memory_method"] else ""
        lines += [
            "",
            "## Verification dossier (issue 10)",
            "",
            f"Median of {section['repeat']} interleaved repetitions in one process. End to end = the Celery task "
            "function on a queued request (snapshot, render in parts in parallel processes, join, SHA-256, stored "
            "file, row; its CPU is the parent process's only); bare = the floor, the same dossier as ONE document "
            "in one pass, `weasyprint.HTML(string=<that HTML>, base_url=<static dir>).write_pdf()`. Limit = "
            f"{section['limit_factor']} × the earlier end-to-end figure.{memory} Subjects created in "
            f"{section['subjects_seconds']} s and deleted afterwards; section {section['section_seconds']} s.",
            "",
            dossier.table(section),
        ]
    if "restore" in report:
        from bench import restore

        lines += [
            "",
            "## Backup and restore (issue 11)",
            "",
            "`pg_dump --format=custom` and a tar of the media, restored with `pg_restore --no-owner` into a new "
            "database and directory; every table compared by row count and an md5 over its rows in order, every "
            'media file by SHA-256 (bench/restore.py; README "Backup and restore").',
            "",
            restore.table(report["restore"]),
        ]
    lines += [
        "",
        *[f"- Note: {note}" for note in report["notes"]],
        "",
        f"Raw numbers: `bench/results/{json_path.name}`.",
        "",
    ]
    markdown = "\n".join(lines)
    (RESULTS / "latest.md").write_text(markdown)
    print()
    print(markdown)
    print(f"Wrote {json_path.relative_to(ROOT)} and bench/results/latest.md")


if __name__ == "__main__":
    sys.exit(main())
