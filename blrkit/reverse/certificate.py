r"""Certificates a paper can cite: the evidence that an update is a BLR instance, in one file.

:func:`certificate` gathers, for a recipe (and optionally a user's update identified as it):

- the derivation (family, approximations, rule, every step in text and LaTeX; Khan & Rue 2023);
- the symbolic identity with the user's form: the renaming, the solved parameters and the
  residual of each state (zero), when an update is given;
- the numeric checks with their counterparts: the numerical BLR certificate of the emitted step
  (:func:`blrkit.derive.certify.certify`), the row's live checks against independent
  counterparts (``blrkit verify``: :mod:`blrkit.classical`, SciPy, scikit-learn, …), and for a
  user's update the check against the emitted step; each with its error, tolerance and seed;
- the mutation score of the row: how many wrong variants of the emitted step the row's live checks
  reject, each run at the same size and seed, each named with its source and verdict: the variants
  the rules of :mod:`blrkit.verify.variants` make from the derivation (a sign flipped, a dropped
  (1 − ρ), the old precision for the new, draws not scaled by Σ^{1/2}, …; kept when they change the
  step's output on the inputs the row's driver passes it), and the hand entries of
  :data:`blrkit.verify.mutations.MUTATIONS` for what no rule expresses;
- the library versions and a SHA-256 hash of the emitted code;
- a digest of all of the above, so an edited file is detected.

:func:`check` re-runs a certificate on this installation and says whether it still holds: the
digest matches, the emitted code hashes the same, every check passes again and reproduces the
recorded error, and the mutation score is reproduced.  :func:`write` saves the JSON, a LaTeX page, and a PDF when ``pdflatex`` exists.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: the certificate format written into each file
FORMAT = "blrkit-certificate/1"
#: the problem of the row's live checks: small, so a certificate takes about a second
SIZE = dict(dim=3, n=24, batch=1)
#: a re-run reproduces a recorded error to this relative amount (plus an absolute 1e-12 for errors at
#: rounding level): the same seeded computation on another BLAS may differ in the last digits
REPRODUCE = 1e-3


def _versions() -> dict:
    import numpy
    import scipy
    import sympy

    import blrkit

    return {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "sympy": sympy.__version__, "blrkit": blrkit.__version__, "platform": platform.platform()}


def _number(x):
    """A JSON number (``None`` for a skipped check, a string for ∞ and NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _identity(recipe: str, update, roles: dict, seed: int) -> dict:
    from . import identify
    from .numeric import D

    r = identify(update, seed=seed, **roles)
    own = next((a for a in r.matches if a.candidate.recipe == recipe), None)
    out = {"update": update if isinstance(update, str) else str(update), "roles": roles,
           "matched": own is not None}
    if own is None:
        out["closest"] = r.text()
        return out
    out.update(states=own.states, gradients=own.gradients,
               parameters={k: str(v) for k, v in own.parameters.items()},
               residuals={s: str(v) for s, v in own.residuals.items()})
    if r.numeric is not None:
        n = r.numeric
        out["numeric"] = {"ran": n.ran, "error": _number(n.error), "tolerance": n.tolerance, "states": n.states,
                          "seed": n.seed, "reason": n.reason, "passed": n.passed,
                          "dimensions": 1 if n.one_datum else D, "one_datum": n.one_datum}
    return out


def certificate(recipe: str, *, update=None, roles: dict | None = None, seed: int = 0) -> dict:
    """The certificate of ``recipe`` (and of ``update``, identified as it) as a JSON-ready dict.

    Parameters
    ----------
    recipe : str
        A name of :data:`blrkit.derive.RECIPES`.
    update : str, dict or sequence of sympy.Eq, optional
        A user's update to certify as this recipe (see :func:`blrkit.identify`).
    roles : dict, optional
        ``state``, ``gradient``, ``hyperparameters`` of ``update``.
    seed : int
        Seed of every random check.

    Examples
    --------
    >>> c = certificate("gradient_descent", update="m_new = m - lr*g",
    ...                 roles={"state": ["m"], "gradient": ["g"]})
    >>> c["holds"], c["identity"]["parameters"]
    (True, {'rho': 'lr'})
    """
    from blrkit.derive import RECIPES
    from blrkit.paper import cite

    if recipe not in RECIPES:
        raise ValueError(f"recipe: {recipe!r} is not a recipe; the recipes are {', '.join(RECIPES)}")
    if update is not None and not roles:
        raise ValueError("roles: give the update's state (and gradient, hyperparameters) to certify it")
    r = RECIPES[recipe]
    d = r.derive()
    code = d.emit(recipe=recipe)
    body = {
        "format": FORMAT,
        "recipe": recipe,
        "seed": seed,
        "derivation": {"title": d.title, "family": d.family, "rule": r.rule,
                       "approximations": [a.key for a in d.approximations], "anchor": cite(d.anchor),
                       "text": d.text(), "latex": d.latex()},
        "code": {"module": f"blrkit/algorithms/_generated/{r.module}.py",
                 "sha256": hashlib.sha256(code.encode()).hexdigest()},
        "checks": _checks(recipe, d, seed),
        "mutation_score": mutation_score(recipe, seed),
        "versions": _versions(),
    }
    if update is not None:
        body["identity"] = _identity(recipe, update, dict(roles), seed)
    body["holds"] = _holds(body)
    body["digest"] = _digest({k: v for k, v in body.items() if k != "digest"})
    return body


def _checks(recipe: str, d, seed: int) -> list[dict]:
    from blrkit.derive.certify import CertificateError, certify
    from blrkit.verify import verify_row

    out = []
    try:
        c = certify(d, seed=seed)
        # a chain of named rewrites only (Adam's) has no numeric BLR step: it is left to the row's counterparts
        left = bool(c.counterpart) and not math.isfinite(c.error)
        out.append({"counterpart": f"numerical BLR step ({c.method})", "error": _number(c.error),
                    "tolerance": _number(c.tolerance), "reason": c.reason, "independent": True,
                    "passed": None if left else c.passed,
                    "unit": "rel.", "seed": seed,
                    "note": ("approximations left to the row's counterparts: " + ", ".join(c.counterpart))
                    if c.counterpart else ""})
    except CertificateError as e:
        out.append({"counterpart": "numerical BLR step", "error": None, "tolerance": None,
                    "reason": str(e), "independent": True, "passed": None, "unit": "rel.", "seed": seed,
                    "note": "not computable by numbers"})
    row = verify_row(recipe, seed=seed, **SIZE)
    for c in row.checks:
        out.append({"counterpart": c.counterpart, "error": _number(c.error), "tolerance": c.tolerance,
                    "reason": "", "independent": c.independent,
                    "passed": None if c.skipped else bool(c.passed), "unit": c.unit, "seed": seed, "note": c.note,
                    "problem": SIZE})
    return out


def mutant_rejected(module: str, i: int, seed: int) -> bool:
    """Whether the live checks of ``module``'s rows (at :data:`SIZE`, ``seed``) reject hand mutant ``i``
    (:data:`blrkit.verify.mutations.MUTATIONS`)."""
    from blrkit.verify import verify_row
    from blrkit.verify.mutations import killed

    return killed(module, i, lambda name: verify_row(name, seed=seed, **SIZE))[0]


def derived_verdicts(recipe: str, seed: int) -> tuple[tuple[str, str, bool], ...]:
    """``(name, rule, rejected)`` of every wrong variant the rules of :mod:`blrkit.verify.variants` make of
    ``recipe``'s derivation, kept when it changes the step's output on the inputs the rows' drivers pass it
    (:func:`~blrkit.verify.variants.survey`), with whether the live checks of those rows (at :data:`SIZE`,
    ``seed``) reject it."""
    from blrkit.verify import verify_row
    from blrkit.verify.variants import survey

    s = survey(recipe, lambda name: verify_row(name, seed=seed, **SIZE))
    return tuple((name, rule, name not in s.survivors) for name, rule in zip(s.kept, s.rules))


def mutation_score(recipe: str, seed: int) -> dict:
    """How many wrong variants of ``recipe``'s emitted step its row's live checks reject (killed of total): those
    made from its derivation (:func:`derived_verdicts`, source ``"derived: <rule>"``) and the hand entries of
    :data:`blrkit.verify.mutations.MUTATIONS` for its module (source ``"hand"``); each variant's name, source and
    verdict, the names of those rejected and of the survivors, the problem size and the seed."""
    from blrkit.verify.mutations import score

    s = score(recipe, derived_verdicts(recipe, seed), lambda module, i: mutant_rejected(module, i, seed))
    return {**s.to_dict(), "problem": SIZE, "seed": seed}


def _holds(body: dict) -> bool:
    ran = [c for c in body["checks"] if c["passed"] is not None]
    ok = bool(ran) and all(c["passed"] for c in ran) and any(c["independent"] for c in ran)
    ident = body.get("identity")
    if ident is not None:
        ok = ok and ident["matched"] and all(v == "0" for v in ident.get("residuals", {}).values()) \
            and ident.get("numeric", {}).get("passed", True) in (True, None) \
            and not (ident.get("numeric", {}).get("ran") and not ident["numeric"]["passed"])
    return ok


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check`: whether the certificate still holds here, and each reason it does not."""

    holds: bool
    problems: tuple

    def text(self) -> str:
        if self.holds:
            return "the certificate holds on this installation"
        return "the certificate does not hold here:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _same(recorded, now) -> bool:
    if recorded is None or now is None or isinstance(recorded, str) or isinstance(now, str):
        return recorded == now
    return abs(recorded - now) <= REPRODUCE * max(abs(recorded), abs(now)) + 1e-12


def check(cert) -> Verdict:
    """Re-run the certificate ``cert`` (a dict, or a path to its JSON) here; see :class:`Verdict`."""
    if not isinstance(cert, dict):
        try:
            cert = json.loads(Path(cert).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"FILE: cannot read a certificate from {cert!s}: {e}") from None
    problems = []
    if cert.get("format") != FORMAT:
        return Verdict(False, (f"not a {FORMAT} file",))
    if cert.get("digest") != _digest({k: v for k, v in cert.items() if k != "digest"}):
        problems.append("the digest does not match the contents: the file was edited after it was written")
    identity = cert.get("identity")
    roles = identity["roles"] if identity else None
    try:
        now = certificate(cert["recipe"], update=identity["update"] if identity else None, roles=roles,
                          seed=int(cert["seed"]))
    except (KeyError, TypeError, ValueError) as e:
        return Verdict(False, tuple(problems) + (f"cannot re-run: {e}",))
    if now["code"]["sha256"] != cert["code"]["sha256"]:
        problems.append("the emitted code differs from the certified one (its SHA-256 changed)")
    old = {c["counterpart"]: c for c in cert["checks"]}
    for c in now["checks"]:
        before = old.get(c["counterpart"])
        if before is None:
            continue
        if c["passed"] is False:
            problems.append(f"{c['counterpart']}: fails here (error {c['error']}, tolerance {c['tolerance']})")
        if not _same(before["error"], c["error"]):
            problems.append(f"{c['counterpart']}: the recorded error {before['error']} is not reproduced "
                            f"(here {c['error']})")
    missing = sorted(set(old) - {c["counterpart"] for c in now["checks"]})
    if missing:
        problems.append("checks no longer run: " + ", ".join(missing))
    recorded, score = cert.get("mutation_score"), now["mutation_score"]
    if not isinstance(recorded, dict) or any(recorded.get(k) != score[k]
                                             for k in ("killed", "total", "survivors", "variants")):
        got = f"{recorded.get('killed')}/{recorded.get('total')}" if isinstance(recorded, dict) else recorded
        problems.append(f"the mutation score {got} is not reproduced (here {score['killed']}/{score['total']}"
                        + (f"; surviving: {', '.join(score['survivors'])}" if score["survivors"] else "")
                        + _variants_changed(recorded, score) + ")")
    if identity and now.get("identity", {}).get("parameters") != identity.get("parameters"):
        problems.append("the identity's parameters differ: " + str(now.get("identity", {}).get("parameters")))
    if not now["holds"]:
        problems.append("the re-run certificate does not hold")
    return Verdict(not problems, tuple(problems))


def _variants_changed(recorded, score: dict) -> str:
    """The variants whose source or verdict differs between a recorded score and the re-run one, as text."""
    was = {v.get("name"): v for v in recorded.get("variants", ()) if isinstance(v, dict)} \
        if isinstance(recorded, dict) and isinstance(recorded.get("variants"), list) else {}
    now = {v["name"]: v for v in score["variants"]}
    out = [f"{n}: {was[n]['verdict']} then, {now[n]['verdict']} now" for n in now
           if n in was and (was[n].get("verdict"), was[n].get("source")) != (now[n]["verdict"], now[n]["source"])]
    out += [f"{n}: new" for n in now if n not in was] + [f"{n}: made no more" for n in was if n not in now]
    return ("; variants changed: " + "; ".join(out[:10]) + ("; …" if len(out) > 10 else "")) if out else ""


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s


def latex(cert: dict) -> str:
    """The certificate as a standalone LaTeX page (``article``, amsmath)."""
    d = cert["derivation"]
    rows = []
    for c in cert["checks"]:
        status = {True: "pass", False: "FAIL", None: "skipped"}[c["passed"]]
        err = "--" if c["error"] is None else (f"{c['error']:.2e}" if isinstance(c["error"], float) else c["error"])
        tol = f"{c['tolerance']:.1e}" if isinstance(c["tolerance"], float) else "--"
        rows.append(f"{_tex(c['counterpart'])} & {'yes' if c['independent'] else 'no'} & {err} & {tol} & {status} \\\\")
    ident = cert.get("identity")
    ident_tex = ""
    if ident is not None:
        if ident["matched"]:
            params = ", ".join(f"{_tex(k)} $=$ \\texttt{{{_tex(v)}}}" for k, v in ident["parameters"].items())
            res = ", ".join(f"{_tex(s)}: {_tex(v)}" for s, v in ident["residuals"].items())
            ident_tex = (r"\section*{Identity with the user's form}" "\n"
                         f"\\texttt{{{_tex(ident['update'])}}}\n\n"
                         f"States: {_tex(str(ident['states']))}; gradients: {_tex(str(ident['gradients']))}.\n\n"
                         f"Parameters: {params or 'none'}.\n\nResidual (user $-$ derived) of each state: {res}.\n")
            if "numeric" in ident:
                n = ident["numeric"]
                ident_tex += (f"\n\nAgainst the emitted step at {n['states']} random states in {n['dimensions']} "
                              f"dimension(s){' with one datum' if n['one_datum'] else ''} (seed {n['seed']}): "
                              f"largest relative error {n['error']}, tolerance {n['tolerance']}."
                              if n["ran"] else f"\n\nNumeric check not run: {_tex(n['reason'])}.")
        else:
            ident_tex = r"\section*{Identity with the user's form}" "\nNot matched.\n"
    versions = ", ".join(f"{_tex(k)} {_tex(v)}" for k, v in cert["versions"].items())
    ms = cert["mutation_score"]
    derived = sum(v["source"] != "hand" for v in ms["variants"])
    mutation_tex = (f"The row's live checks reject {ms['killed']} of {ms['total']} wrong variants of the emitted step "
                    f"(problem {_tex(str(ms['problem']))}, seed {ms['seed']}): {derived} made from the derivation by "
                    f"the rules of blrkit.verify.variants, {ms['total'] - derived} written by hand."
                    + (f" Rejected: {_tex('; '.join(ms['rejected']))}." if ms["rejected"] else "")
                    + (f" Not rejected: {_tex('; '.join(ms['survivors']))}." if ms["survivors"] else ""))
    return "\n".join([
        r"\documentclass[10pt]{article}",
        r"\usepackage[a4paper,margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage[T1]{fontenc}",
        r"\begin{document}",
        f"\\section*{{BLR certificate: {_tex(d['title'])}}}",
        f"Recipe \\texttt{{{_tex(cert['recipe'])}}}; family \\texttt{{{_tex(d['family'])}}}; rule {_tex(d['rule'])}; "
        f"approximations: {_tex(', '.join(d['approximations']) or 'none')}. {_tex(d['anchor'])}.",
        f"\n\\textbf{{{'The certificate holds.' if cert['holds'] else 'The certificate does NOT hold.'}}}\n",
        r"\section*{Derivation}",
        d["latex"],
        ident_tex,
        r"\section*{Numeric checks}",
        f"Seed {cert['seed']}.\n",
        r"\begin{tabular}{p{7.5cm}llll}",
        r"counterpart & independent & error & tolerance & status \\ \hline",
        *rows,
        r"\end{tabular}",
        r"\section*{Mutation score}",
        mutation_tex + "\n",
        r"\section*{Provenance}",
        f"Emitted code \\texttt{{{_tex(cert['code']['module'])}}}, SHA-256 "
        f"\\texttt{{{cert['code']['sha256'][:32]}\\-{cert['code']['sha256'][32:]}}}.\n",
        f"Versions: {versions}.\n",
        f"Digest of this certificate: \\texttt{{{cert['digest'][:32]}\\-{cert['digest'][32:]}}}.",
        r"\end{document}", ""])


def write(cert: dict, path) -> list[Path]:
    """Save ``cert`` as ``path`` (JSON), beside it the LaTeX page (``.tex``) and, if pdflatex exists, the PDF."""
    path = Path(path)
    path.write_text(json.dumps(cert, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tex = path.with_suffix(".tex")
    tex.write_text(latex(cert), encoding="utf-8")
    written = [path, tex]
    if shutil.which("pdflatex"):
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-output-directory", tmp,
                                  str(tex.resolve())], capture_output=True, text=True, timeout=120)
            pdf = Path(tmp) / (tex.stem + ".pdf")
            if run.returncode == 0 and pdf.exists():
                target = path.with_suffix(".pdf")
                shutil.copyfile(pdf, target)
                written.append(target)
    return written
