"""The ``logscan`` command line: parses options and calls the library; no logic of its own."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import polars as pl
import pyarrow as pa

from zephyr_logscan.ingest import IngestError, OutputError, SourceError
from zephyr_logscan.ingest import ingest as ingest_logs
from zephyr_logscan.load import LoadError
from zephyr_logscan.parallel import WorkerLost
from zephyr_logscan.query import EXAMPLES as QUERY_EXAMPLES_SQL
from zephyr_logscan.query import FORMATS as QUERY_FORMATS
from zephyr_logscan.stops import Interrupted, stop_on_signals
from zephyr_logscan.version import VERSION


class SizeType(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from zephyr_logscan.synth import parse_size  # the synthesizer loads only for `synth`

        try:
            return parse_size(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=VERSION, prog_name="logscan")
def cli():
    """Log forensics for zephyr coordinator incidents on Ray.

    \b
    Example:
      logscan synth -o demo/full_log.txt
    """


@cli.command()
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Log file to write."
)
@click.option(
    "--seed", default=7, show_default=True, type=int, help="Random seed; same seed, same bytes."
)
@click.option(
    "--size", default="100MB", show_default=True, type=SizeType(), help="Target size (KB, MB, GB)."
)
@click.option(
    "--workers",
    default=1024,
    show_default=True,
    type=click.IntRange(4, 100_000),
    help="Workers of the incident pipeline.",
)
@click.option(
    "--pipelines",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Zephyr pipelines in the log.",
)
@click.option("--clean", is_flag=True, help="Same shape, no incident: every pipeline healthy.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def synth(output, seed, size, workers, pipelines, clean, quiet):
    """Write a realistic zephyr incident driver log and FILE.truth.json.

    \b
    Example:
      logscan synth -o demo/full_log.txt                 # 100 MB, 1,024 workers
      logscan synth -o small.txt --size 5MB --workers 64 --seed 3
    """
    from zephyr_logscan.synth import SynthConfig, synthesize

    try:
        cfg = SynthConfig(seed=seed, size=size, workers=workers, pipelines=pipelines, clean=clean)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    started = time.perf_counter()
    try:
        truth = synthesize(output, cfg)
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    if not quiet:
        secs = time.perf_counter() - started
        t = truth["tables"]
        click.echo(
            f"synth: wrote {output} ({truth['bytes'] / 1e6:.1f} MB, {truth['lines_total']:,} lines) "
            f"and {output}.truth.json in {secs:.1f}s"
        )
        click.echo(
            f"synth: {t['node_deaths']['events']} node-death events, "
            f"{t['heartbeat_failures']['events']:,} heartbeat failures, "
            f"{t['reregistrations']['events']:,} re-registrations, "
            f"{t['actor_already_exists']['rows']} name collisions"
            + (" (clean: no incident)" if clean else "")
        )


def looks_like_ray_address(value: str) -> bool:
    return value in ("auto", "local") or ":" in value


@cli.command()
@click.argument("inputs", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Output folder [default: FIRST_INPUT.logscan/ beside it]. An existing folder is "
    "replaced only if logscan wrote it.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an output folder that also holds other files: replace logscan's own files "
    "there, leave the others.",
)
@click.option("--since", help="Keep records at or after this time (ISO 8601).")
@click.option("--until", help="Keep records at or before this time (ISO 8601).")
@click.option(
    "--tz", default="UTC", show_default=True, help="Time zone of naive timestamps in the logs."
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False),
    help="Also write the HTML report here.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes: files, and ranges of large files, are parsed in parallel "
    "[default: 1 on a machine of up to 2 cores, where one process keeps the cores busy; "
    "else the machine's cores for 16 MB of input or more; at most 4 per core, and no more "
    "processes start than there are parts to parse].",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="auto",
    metavar="[ADDRESS]",
    help="Parse on a Ray cluster instead: auto (RAY_ADDRESS or this machine's cluster, the "
    "default), local (a private instance here), HOST:PORT or ray://HOST:PORT. Inputs must be "
    "on a path every node sees.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def ingest(inputs, output, force, since, until, tz, report_file, jobs, ray_address, quiet):
    """Turn Ray/zephyr logs into typed Parquet tables and manifest.json.

    INPUTS are log files (plain, gzip, zstd, bzip2, xz), Ray session log folders, FIFOs or
    process substitutions, or - for stdin.

    \b
    Example:
      logscan ingest full_log.txt                       # -> full_log.txt.logscan/
      logscan ingest /tmp/ray/session_latest/logs -o tables/
      zcat full_log.txt.gz | logscan ingest - -o tables/ --since 2026-02-21T12:50
      logscan ingest full_log.txt -o tables/ --report report.html
      logscan ingest /shared/incident/*/logs -o tables/ --jobs 8
      logscan ingest /shared/incident/*/logs -o tables/ --ray auto
    """
    if ray_address is not None and not looks_like_ray_address(ray_address):
        # `--ray logs/`: the value is the first input, the address the default one
        inputs, ray_address = (ray_address, *inputs), "auto"
    if not inputs:
        raise click.UsageError("Missing argument 'INPUTS...'.")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz!r}", param_hint="--tz") from None
    bar = Progress() if not quiet and sys.stderr.isatty() else None
    try:
        result = ingest_logs(
            list(inputs), output, since=since, until=until, tz=zone, force=force, progress=bar,
            jobs=jobs, ray_address=ray_address,
        )  # fmt: skip
    except IngestError as e:
        raise click.UsageError(str(e)) from None
    except SourceError as e:
        raise BadInput(str(e)) from None
    except OutputError as e:
        raise (click.UsageError if e.refused else RunFailed)(str(e)) from None
    except WorkerLost as e:
        raise RunFailed(str(e)) from None
    finally:
        if bar:
            bar.close()
    if report_file:
        from reports import render_report  # plotly loads only when a report is asked for
        from zephyr_logscan.findings import diagnose as find_patterns

        written = render_report(result.out_dir, report_file, find_patterns(result.out_dir))
        if not quiet:
            click.echo(f"report: {written} ({written.stat().st_size / 1e6:.1f} MB)")
    if quiet:
        return
    m = result.manifest
    click.echo(
        f"ingest: {m['lines_total']:,} lines from {len(m['inputs'])} input(s) in {m['seconds']:.2f}s -> {result.out_dir}"
    )
    click.echo(
        f"ingest: time range {m['first_ts']} .. {m['last_ts']}; {m['lines_unmatched']:,} lines unmatched"
    )
    for table, counts in m["tables"].items():
        click.echo(f"  {table:22s} {counts['rows']:>9,} rows {counts['events']:>11,} events")
    for i in m["inputs"]:
        if i["truncated_lines"]:
            click.echo(
                f"  {i['path']}: {i['truncated_lines']:,} lines longer than 1 MB kept their first "
                f"MB ({i['truncated_bytes']:,} bytes left out)"
            )
        if i["nul_runs"]:
            click.echo(
                f"  {i['path']}: {i['nul_runs']:,} NUL runs ({i['nul_bytes']:,} bytes) removed"
            )
    for s in m["skipped"]:
        click.echo(f"  skipped {s['path']}: {s['why']}")


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="HTML file [default: FOLDER/report.html].",
)
def report(folder, output):
    """Write the HTML timeline report of an ingest output folder.

    One self-contained file (plotly inlined, works offline): workers over time per pipeline,
    event strips, node lanes, findings and unknown templates.

    \b
    Example:
      logscan report full_log.txt.logscan            # -> full_log.txt.logscan/report.html
      logscan report tables/ -o incident.html
    """
    if not (Path(folder) / "manifest.json").exists():
        raise click.UsageError(
            f"{folder}: not an ingest output (no manifest.json); run `logscan ingest` first"
        )
    from reports import render_report  # plotly loads only when a report is asked for
    from zephyr_logscan.findings import diagnose as find_patterns

    try:
        written = render_report(folder, output, find_patterns(folder))
    except OSError as e:
        raise click.ClickException(f"cannot write the report: {e.strerror or e}") from None
    click.echo(f"report: {written} ({written.stat().st_size / 1e6:.1f} MB)")


def parse_params(pairs: tuple[str, ...]) -> dict[str, float]:
    """``--param name=value`` options -> the detector parameters (a usage error names a bad one)."""
    from zephyr_logscan import findings as fd

    overrides = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq:
            raise click.UsageError(f"--param {pair!r}: expected name=value")
        overrides[name.strip()] = value.strip()
    try:
        return fd.parameters(overrides)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


PARAM_HELP = "Detector threshold, e.g. --param stall_min=30 (repeatable). Names: " + ", ".join(
    __import__("zephyr_logscan.findings", fromlist=["PARAMS"]).PARAMS
)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the parameters, summary and findings as JSON."
)
@click.option(
    "--verify", is_flag=True, help="Also run each finding's scenario against the corrected engine."
)
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "warning"]),
    help="Exit 1 when a finding is at least this severe.",
)
@click.option("--param", "param_pairs", multiple=True, metavar="NAME=VALUE", help=PARAM_HELP)
def diagnose(folder, as_json, verify, fail_on, param_pairs):
    """Name the failure patterns in an ingest output: an incident summary first, then every
    finding with its evidence and the scenario that covers it.

    \b
    Example:
      logscan diagnose full_log.txt.logscan
      logscan diagnose tables/ --json --fail-on critical
      logscan diagnose tables/ --param stall_min=30 --param wave_nodes=10
    """
    import json

    from zephyr_logscan import findings as fd
    from zephyr_logscan import summary

    params = parse_params(param_pairs)
    if not (Path(folder) / "manifest.json").exists():
        raise click.UsageError(
            f"{folder}: not an ingest output (no manifest.json); run `logscan ingest` first"
        )
    found = fd.diagnose(folder, params)
    if verify:
        from zephyr_engine import scenarios

        outcomes = {p: scenarios.run(p) for p in sorted({f.pattern for f in found})}
        for f in found:
            o = outcomes[f.pattern]
            f.verified = {"ok": o.ok, "detail": o.detail, "seconds": round(o.seconds, 2)}
    if as_json:
        doc = json.loads(fd.as_json(found, params))
        doc["summary"] = [summary.as_dict(g) for g in summary.critical_first(summary.groups(found))]
        click.echo(json.dumps(doc, indent=1))
    else:
        for line in summary.text(found):
            click.echo(line)
        for g in summary.groups(found):
            click.echo("")
            click.echo(f"{g.pattern} {g.title} [{g.severity}] {g.pipeline or '-'}: {g.count} finding"
                       f"{'s' if g.count > 1 else ''}, {g.start} .. {g.end}; {g.proof}")  # fmt: skip
            for f in g.findings:
                where = ", ".join(f.evidence[:3]) + (" ..." if len(f.evidence) > 3 else "")
                click.echo(
                    f"  - {f.start} .. {f.end} ({summary.plural(f.events, 'event')}): {f.explanation}"
                )
                click.echo(f"    evidence: {where}")
                if f.verified and not f.verified["ok"]:
                    click.echo(f"    scenario {f.pattern} FAILED: {f.verified['detail']}")
        click.echo(
            f"diagnose: {summary.plural(len(found), 'finding')}"
            + (" (none: no known pattern in these logs)" if not found else "")
        )
    if fail_on and any(fd.SEVERITY[f.severity] >= fd.SEVERITY[fail_on] for f in found):
        sys.exit(1)


QUERY_EXAMPLES = "\n\n".join(  # \b: click keeps each paragraph's lines as they are
    f'\b\n  # {name}\n  logscan query tables/ "{sql}"' for name, sql in QUERY_EXAMPLES_SQL.items()
)


@cli.command(epilog="Questions worth asking of an incident:\n\n" + QUERY_EXAMPLES)
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.argument("sql", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(QUERY_FORMATS),
    help="Output format [default: the -o file's suffix, else table].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the result to this file (atomically) instead of stdout.",
)
def query(folder, sql, fmt, output):
    """Ask SQL questions of an ingest output: every table is registered under its name.

    Without SQL, lists the tables with their rows and columns. The dialect is polars SQL
    (SELECT, JOIN, GROUP BY, window functions, date_trunc, EXTRACT, ...).

    \b
    Example:
      logscan query tables/                                   # what can be asked
      logscan query tables/ "SELECT * FROM node_deaths LIMIT 5"
      logscan query tables/ "SELECT worker_id, silence_s FROM heartbeat_failures" --format csv
      logscan query tables/ "SELECT * FROM events" -o events.parquet
    """
    from zephyr_logscan.load import LoadError
    from zephyr_logscan.query import QueryError, describe, format_for, run_query, write_result

    try:
        if sql is None:
            click.echo(describe(folder), nl=False)
            return
        result = run_query(folder, sql)
        write_result(result, format_for(fmt, output), output)
    except (LoadError, QueryError) as e:
        raise click.UsageError(str(e)) from None


class BadInput(click.ClickException):
    """An input that cannot be read in full (missing, no permission, corrupt): exit 2."""

    exit_code = 2


class RunFailed(click.ClickException):
    """The run failed while writing (disk full, no permission, a rename refused): exit 1."""

    exit_code = 1


class Progress:
    """The ingest progress on stderr with click's progress bar: stored bytes (compressed bytes
    for compressed inputs) against their total, or a byte counter when an input is a pipe."""

    def __init__(self):
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int | None):
        if self.bar is None:
            self.bar = click.progressbar(
                length=total or None,
                iterable=None if total else (x for x in ()),  # no length: a counter
                label="ingest",
                file=sys.stderr,
                show_eta=bool(total),
                item_show_func=lambda mb: mb,
            )
            self.bar.__enter__()
        self.bar.update(max(done - self.done, 0), f"{done / 1e6:.1f} MB")
        self.done = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@cli.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--pipeline", help="Pipeline to replay [default: the one in the worst state].")
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    help="Replay workers [default: the log's, at most 64 (8 on Ray)].",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(0, min_open=True),
    help="Replay seconds per log second [default: the last fault lands 20 s into the run, 45 s on Ray].",
)
@click.option("--backend", default="local", show_default=True, type=click.Choice(["local", "ray"]))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the schedule, plan and outcome as JSON."
)
@click.option(
    "--save-schedule",
    type=click.Path(dir_okay=False),
    help="Also write the derived schedule here (JSON, editable).",
)
@click.option(
    "--schedule",
    "schedule_file",
    type=click.Path(dir_okay=False),
    help="Replay this schedule file instead of deriving one from FOLDER.",
)
def replay(folder, pipeline, workers, time_scale, backend, as_json, save_schedule, schedule_file):
    """Play a pipeline's fault schedule from the log against the corrected engine.

    Derives the schedule from FOLDER (an ingest output), scales it (at most 64 workers, the
    incident compressed into under a minute), drives a real zephyr_engine pipeline through the
    same faults, and prints what the log shows beside what the engine does. Exit 0 when the
    engine keeps its guarantees (no hang, typed error or exact output, fresh names), 1 if not.

    \b
    Example:
      logscan replay full_log.txt.logscan
      logscan replay tables/ --save-schedule incident.json
      logscan replay --schedule incident.json --workers 16 --json
    """
    import json

    from zephyr_logscan import replay as rp
    from zephyr_logscan import schedule as sc

    if save_schedule and schedule_file:
        raise click.UsageError("--save-schedule and --schedule exclude each other")
    try:
        if schedule_file:
            schedules = sc.load(schedule_file)
        elif folder is None:
            raise click.UsageError("give an ingest output FOLDER or --schedule FILE")
        else:
            from zephyr_logscan.derive import DeriveError, derive

            try:
                schedules = derive(folder)
            except DeriveError as e:
                raise click.UsageError(str(e)) from None
        chosen = rp.pick(schedules, pipeline)
        if save_schedule:
            try:
                sc.save([chosen], save_schedule)
            except OSError as e:
                raise click.UsageError(f"cannot write {save_schedule}: {e.strerror or e}") from None
        on_ray = backend == "ray"
        p = rp.plan(chosen, workers, time_scale, max_workers=rp.MAX_RAY_WORKERS if on_ray else rp.MAX_WORKERS,
                    target=rp.RAY_TARGET if on_ray else rp.TARGET)  # fmt: skip
        outcome = rp.run(p, backend)
    except (sc.ScheduleError, rp.ReplayError) as e:
        raise click.UsageError(str(e)) from None
    except rp.BackendStartError as e:
        raise click.ClickException(str(e)) from None
    doc = rp.as_dict(chosen, p, outcome)
    if as_json:
        click.echo(json.dumps(doc, indent=1, ensure_ascii=False))
    else:
        click.echo(rp.render(chosen, p, outcome))
    if folder is not None and not schedule_file:  # the report of this folder shows the outcome
        try:
            rp.save_outcome(doc, Path(folder))
        except OSError as e:
            click.echo(
                f"logscan: note: replay.json not written in {folder}: {e.strerror or e}", err=True
            )
    if not outcome.ok:
        sys.exit(1)


def main(argv=None):
    """Entry point of the console script: errors are one line on stderr, never a traceback.

    Exit codes: 0 success, 1 a failed run (a write failed), 2 bad usage or bad input,
    130 interrupted (SIGINT), 143 terminated (SIGTERM).
    """
    try:
        with stop_on_signals():
            cli.main(args=argv, prog_name="logscan", standalone_mode=False)
    except Interrupted as e:
        click.echo("logscan: interrupted", err=True)
        # Everything of the run is cleaned up by now; leave at once instead of waiting for
        # threads still finishing a step and for the interpreter's teardown (~0.5 s).
        sys.stdout.flush()
        sys.stderr.flush()
        if mp_process := sys.modules.get("multiprocessing.process"):
            # Worker processes a parallel run started, even one whose pool was still starting
            # when the signal came: they must not outlive the run (they hold stderr open).
            for child in mp_process.active_children():
                child.terminate()
        if mp_util := sys.modules.get("multiprocessing.util"):
            # What the skipped teardown would do for a parallel run: release the worker pool's
            # semaphores (else multiprocessing's resource tracker prints a warning at exit).
            mp_util._run_finalizers(0)
        os._exit(e.exit_code)
    except click.UsageError as e:
        hint = f" (see 'logscan {e.ctx.info_name} --help')" if e.ctx and e.ctx.parent else ""
        click.echo(f"logscan: error: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"logscan: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("logscan: aborted", err=True)
        sys.exit(1)
    except LoadError as e:  # a damaged manifest.json
        click.echo(f"logscan: error: {e}", err=True)
        sys.exit(2)
    except (pl.exceptions.PolarsError, pa.ArrowException) as e:
        # A table that polars or pyarrow cannot read (a damaged or foreign Parquet file in the
        # folder): bad input, in one line.
        text = str(e).strip().splitlines()
        click.echo(f"logscan: error: {type(e).__name__}: {text[0] if text else ''}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("logscan: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
