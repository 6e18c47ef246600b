"""``paperdigest show``: everything the store knows about a paper, as one JSON-ready dict.

The question it answers is an operator's, when a reader asks "why did I (not) get this?":
where each field came from and when, every capture that listed the paper (with the upvotes
it gave, or that its source gives none), the digests that held it and whether each reader's
email went out, and, per profile, whether the profile has considered it and how it ranks.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from paperdigest.config import Config, Profile
from paperdigest.delivery.textsafe import one_line
from paperdigest.errors import InputError
from paperdigest.models import Paper, RankedItem
from paperdigest.store import Store
from paperdigest.store.fieldupdates import FIELDS
from paperdigest.store.rows import aware, momentum_from_json, paper_from_row

# Formats whose captures carry upvotes (the HF API and the listing's HTML); the others never do.
UPVOTE_FORMATS = ("hf-api", "html")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def show_papers(store: Store, config: Config, ident: str, *, now: datetime) -> dict[str, Any]:
    """The report of every paper ``ident`` names (an arXiv id or URL, a uid, or an exact title).

    Raises :class:`InputError` when none does.
    """
    from paperdigest.pipeline.digests import schedule_zone

    tz = schedule_zone(config)
    ids = store.find_papers(ident)
    if not ids:
        raise InputError(f'show: no paper in the store matches "{ident}" (an arXiv id, a paper uid, or an '
                         "exact title)")
    stats = None
    if config.profiles:
        from paperdigest.pipeline.digests import term_stats

        stats = term_stats(store, save=False)
    return {"query": ident, "papers": [_paper_report(store, config, pid, stats, tz, now) for pid in ids]}


def _paper_report(store: Store, config: Config, pid: int, stats: Any, tz: tzinfo, now: datetime) -> dict[str, Any]:
    from paperdigest.ranking.momentum import summarize

    rec = store.paper_record(pid)
    row, first = rec["row"], rec["first"]
    paper = paper_from_row(row)
    seen = rec["sightings"]
    summary = summarize([(s["seen_at"], s["upvotes"]) for s in seen], tz, now.astimezone(tz).date())
    return {
        "id": pid,
        "uid": row.uid,
        "paper": _paper_json(paper, row),
        "fields": _fields(paper, row, first, rec["changes"], seen),
        "changes": [dict(c, at=_iso(c["at"])) for c in rec["changes"]],
        "sightings": {
            "captures": summary.captures if summary else 0,
            "days": summary.days if summary else 0,
            "first_seen": _iso(summary.first_seen) if summary else None,
            "last_seen": _iso(summary.last_seen) if summary else None,
            "upvotes": summary.upvotes if summary else None,
            "gain": summary.gain if summary else None,
            "since": summary.since if summary else None,
            "shown": summary.describe() if summary else None,
            "list": [{"snapshot": s["snapshot"], "source": s["source"], "format": s["format"],
                      "seen_at": _iso(s["seen_at"]), "upvotes": s["upvotes"],
                      "gives_upvotes": s["format"] in UPVOTE_FORMATS} for s in seen],
        },
        "digests": [{"digest": d["digest"], "profile": d["profile"], "date": d["date"].isoformat(),
                     "position": d["position"], "score": round(d["score"], 4),
                     "why": RankedItem(paper, d["score"], d["matches"], *momentum_from_json(d["momentum"])).why(),
                     "momentum": json.loads(d["momentum"]) if d["momentum"] else None,
                     "added_at": _iso(d["added_at"]),
                     "deliveries": [dict(x, sent_at=_iso(x["sent_at"])) for x in d["deliveries"]]}
                    for d in rec["digests"]],
        "profiles": [_profile_status(p, pid, paper, rec, stats) for p in config.profiles],
    }


def _paper_json(paper: Paper, row: Any) -> dict[str, Any]:
    return {"title": paper.title, "abstract": paper.abstract or None, "abstract_available": bool(paper.abstract),
            "arxiv_id": paper.arxiv_id, "url": paper.url, "authors": list(paper.authors),
            "published": _iso(paper.published), "upvotes": paper.upvotes, "ai_summary": paper.ai_summary,
            "first_seen": _iso(aware(row.first_seen)), "last_seen": _iso(aware(row.last_seen)),
            "updated_at": _iso(aware(row.updated_at))}


def _fields(paper: Paper, row: Any, first: Any, changes: list[dict[str, Any]],
            seen: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per field: its value, and where and when it came from (the latest change, else the
    paper's first capture). Upvotes come from the latest sighting that gave some."""
    latest = {c["field"]: c for c in changes}
    values = {"title": paper.title, "abstract": paper.abstract or None, "authors": list(paper.authors) or None,
              "url": paper.url, "published": _iso(paper.published), "ai_summary": paper.ai_summary,
              "arxiv_id": paper.arxiv_id}
    out: dict[str, dict[str, Any]] = {}
    for name in FIELDS:
        value = values[name]
        change = latest.get(name)
        if value is None:
            out[name] = {"value": None, "source": None, "snapshot": None, "at": None,
                         "how": "not yet available" if name == "abstract" else "not given by any capture"}
        elif change is not None:
            out[name] = {"value": value, "source": change["source"], "snapshot": change["snapshot"],
                         "at": _iso(change["at"]), "how": "corrected" if change["previous"] is not None else "filled"}
        else:
            out[name] = {"value": value, "source": first.source if first is not None else None,
                         "snapshot": first.id if first is not None else None,
                         "at": _iso(aware(row.first_seen)), "how": "first seen"}
    readings = [s for s in seen if s["upvotes"] is not None]
    if readings:
        last = readings[-1]
        out["upvotes"] = {"value": last["upvotes"], "source": last["source"], "snapshot": last["snapshot"],
                          "at": _iso(last["seen_at"]), "how": "latest reading"}
    else:
        formats = sorted({s["format"] or "?" for s in seen})
        out["upvotes"] = {"value": paper.upvotes, "source": None, "snapshot": None, "at": None,
                          "how": f"not given by its sources ({', '.join(formats)})" if paper.upvotes is None
                          else "recorded before sightings were kept"}
    return out


def _profile_status(profile: Profile, pid: int, paper: Paper, rec: dict[str, Any], stats: Any) -> dict[str, Any]:
    """Did this profile's readers get the paper, and if not, why (as far as the store can tell)?"""
    held = [d["digest"] for d in rec["digests"] if d["profile"] == profile.name]
    out: dict[str, Any] = {"profile": profile.name}
    if held:
        return dict(out, status="in a digest", digest=held[0])
    from paperdigest.ranking import rank

    ranked = rank([paper], [profile], stats)[profile.name]
    score = ranked[0].score if ranked else None
    out.update(score_now=round(score, 4) if score is not None else None,
               why_now=ranked[0].why() if ranked else "matches no keyword (or an exclude term)")
    cursor = rec["cursors"].get(profile.name)
    if cursor is None or cursor < pid:
        wait = " (weekly: on its next week_day)" if profile.digest == "weekly" else ""
        return dict(out, status="not yet considered" + wait)
    if score is None:
        reason = "matched no keyword, or an exclude term"
    elif score < profile.min_score:
        reason = f"score {score:.2f} below min_score {profile.min_score:g}"
    else:
        reason = f"ranked below the profile's top {profile.max_items} (max_items) that day"
    return dict(out, status="considered, not chosen", reason=reason)


def render_text(report: dict[str, Any]) -> str:
    """The report for a terminal: one block per paper. Paper text is cleaned of control and
    bidi characters (it is untrusted, and a terminal obeys escape sequences)."""
    return "\n\n".join(_text_block(p) for p in report["papers"]) + "\n"


def _text_block(p: dict[str, Any]) -> str:
    lines = [one_line(p["paper"]["title"], 300), f"  uid {one_line(p['uid'], 120)} · store id {p['id']}"]
    lines.append("Fields:")
    for name, f in p["fields"].items():
        value = f["value"]
        shown = "—" if value is None else one_line(", ".join(value) if isinstance(value, list) else str(value), 70)
        where = (f"{f['how']}: {one_line(f['source'], 120)} (capture {f['snapshot']}) at {f['at']}" if f["source"]
                 else f["how"])
        lines.append(f"  {name:<10} {shown}")
        lines.append(f"  {'':<10} {where}")
    if p["changes"]:
        lines.append("Changes:")
        lines += [f"  {c['at']}  {c['field']} {'corrected' if c['previous'] is not None else 'filled'} by "
                  f"{one_line(c['source'], 120)} (capture {c['snapshot']})" for c in p["changes"]]
    s = p["sightings"]
    lines.append(f"Sightings: {s['captures']} capture(s) on {s['days']} day(s)"
                 + (f"; shown as \"{s['shown']}\"" if s["shown"] else ""))
    for x in s["list"]:
        votes = f"▲ {x['upvotes']}" if x["upvotes"] is not None else (
            "no upvotes given" if x["gives_upvotes"] else "no upvotes (this source never gives them)")
        where = f"{one_line(x['source'], 120)} ({x['format']}, capture {x['snapshot']})"
        lines.append(f"  {x['seen_at']}  {where}  {votes}")
    lines.append("Digests:" if p["digests"] else "Digests: none")
    for d in p["digests"]:
        lines.append(f"  {d['digest']} #{d['position']} score {d['score']:.2f}: {one_line(d['why'])}")
        for x in d["deliveries"]:
            when = f" ({x['channel']}, {x['sent_at']})" if x["sent_at"] else ""
            lines.append(f"    {x['to']}: {x['status']}{when}" + (f": {one_line(x['error'])}" if x["error"] else ""))
    if p["profiles"]:
        lines.append("Profiles:")
        for x in p["profiles"]:
            detail = x.get("digest") or x.get("reason") or ""
            now = f"; now: {one_line(x['why_now'])}" if "why_now" in x else ""
            lines.append(f"  {x['profile']}: {x['status']}" + (f": {detail}" if detail else "") + now)
    return "\n".join(lines)

