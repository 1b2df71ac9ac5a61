"""The backup and restore round trip of `make bench` (issue 11, item 14): the documented commands, checked.

Backup: `pg_dump --format=custom` of the database and a tar of the media directory (plans and dossiers). Restore:
`pg_restore --no-owner` into a new, empty database and the tar into a new directory. Check: every table of the public
schema has the same number of rows and the same checksum (md5 over its rows' text, in a fixed order) in both
databases, and every media file is there with the same SHA-256. The restored database and directory are dropped
afterwards; the dump's size and the times are reported.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, md5 of the rows' text in sorted order)} for every table of the public schema."""
    result = {}
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        for table in _tables(cursor):
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {} t"
                ).format(sql.Identifier(table))
            )
            count, digest = cursor.fetchone()
            result[table] = (count, digest)
    connection.close()
    return result


def _media_digests(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def round_trip(database_url: str, media_root: Path, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    dump, archive = work / "backup.dump", work / "media.tar"
    restored_name = urlsplit(database_url).path.lstrip("/") + "_restored"
    restored_url = _with_database(database_url, restored_name)
    admin_url = _with_database(database_url, "postgres")
    restored_media = work / "media-restored"
    # The dossier section deletes the PDFs it made: put a dossier-like file in the media so the tar is exercised.
    sentinel = media_root / "dossiers" / "restore-check.pdf"
    sentinel.parent.mkdir(parents=True, exist_ok=True)
    sentinel.write_bytes(b"%PDF-1.7\n" + hashlib.sha256(str(time.time()).encode()).digest() * 2048)
    started = time.perf_counter()
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), database_url], check=True)
    with tarfile.open(archive, "w") as tar:
        if media_root.exists():
            tar.add(media_root, arcname=".")
    backup_s = time.perf_counter() - started

    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(restored_name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored_name)))
        started = time.perf_counter()
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored_url, str(dump)], check=True)
        shutil.rmtree(restored_media, ignore_errors=True)
        restored_media.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(restored_media, filter="data")
        restore_s = time.perf_counter() - started

        started = time.perf_counter()
        before, after = table_checksums(database_url), table_checksums(restored_url)
        media_before, media_after = _media_digests(media_root), _media_digests(restored_media)
        check_s = time.perf_counter() - started
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(restored_name)))
        admin.close()
        shutil.rmtree(restored_media, ignore_errors=True)
        sentinel.unlink(missing_ok=True)

    differing = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    missing_media = sorted(set(media_before) - set(media_after))
    changed_media = sorted(k for k in media_before.keys() & media_after.keys() if media_before[k] != media_after[k])
    report = {
        "tables": len(before),
        "rows": sum(count for count, _ in before.values()),
        "tables_differing": differing,
        "media_files": len(media_before),
        "media_missing": missing_media,
        "media_changed": changed_media,
        "dump_mb": round(dump.stat().st_size / 1e6, 1),
        "backup_s": round(backup_s, 1),
        "restore_s": round(restore_s, 1),
        "check_s": round(check_s, 1),
        "ok": not differing and not missing_media and not changed_media,
    }
    dump.unlink(missing_ok=True)
    archive.unlink(missing_ok=True)
    return report


def table(report: dict) -> str:
    verdict = "identical" if report["ok"] else "DIFFERENT"
    lines = [
        "| tables | rows | media files | dump MB | backup s | restore s | check s | result |",
        "|---|---|---|---|---|---|---|---|",
        f"| {report['tables']} | {report['rows']:,} | {report['media_files']} | {report['dump_mb']} | "
        f"{report['backup_s']} | {report['restore_s']} | {report['check_s']} | {verdict} |",
    ]
    if not report["ok"]:
        lines.append("")
        lines.append(
            f"Differing tables: {report['tables_differing']}; media missing: {report['media_missing']}; "
            f"changed: {report['media_changed']}"
        )
    return "\n".join(lines)
