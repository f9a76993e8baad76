"""The ``blrkit`` command: one function per subcommand, wired up by :func:`_build_parser`.

``blrkit table`` reproduces Table 1 of Khan & Rue (2023) with live checks: for every algorithm
blrkit derives, it derives the update, runs the public driver (which runs the emitted step) on a
seeded problem and compares every output with independent counterparts: the textbook version,
SciPy, Bayes' rule and (when installed) scikit-learn, filterpy and pykalman (checks in
:mod:`blrkit.verify`, rendering in :mod:`blrkit.table`). ``blrkit verify`` runs one row at a
chosen size. ``blrkit derive`` prints
a derived update as LaTeX, Markdown, text or the emitted NumPy code.

``blrkit families`` lists every registered exponential family with its natural
and expectation parameters and runs its identity checks live (μ = ∇A against
sums, quadrature or Monte Carlo; the standard ↔ natural ↔ expectation round
trip; Khan & Rue 2023, Sec. 1.2).  The exit status is 0 when every check passes.

Exit status: 0 success, 1 a check failed (or the output could not be written), 2 a usage error
(one line on stderr, no traceback). A terminal that cannot show blrkit's symbols (``PYTHONIOENCODING=ascii``)
gets ASCII stand-ins (ρ → rho); ``TERM=dumb`` or ``NO_COLOR`` turn off the progress line's control codes.
The module imports nothing heavy: SymPy and the checks load inside the subcommands.

>>> main(["derive", "no-such-family"])  # "blrkit: error: unknown family ..." on stderr
2
>>> main(["verify", "ridge", "--dim", "2", "--n", "10"])  # doctest: +ELLIPSIS
Ridge regression (ridge): family multivariate-gaussian, approximations rho=1; Khan & Rue 2023, Sec. 5.1
...
pass
0
"""

from __future__ import annotations

import argparse
import sys
import textwrap

__all__ = ["main"]

_WIDTH = 100


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=f"  {label:<13}", subsequent_indent=" " * 15,
                         break_long_words=False, break_on_hyphens=False)


def families(args: argparse.Namespace) -> int:
    """Print every family, its parameters and its live identity checks; 0 when all pass."""
    import numpy as np

    from blrkit.families import FAMILIES
    from blrkit.families.checks import check_family

    rng = np.random.default_rng(args.seed)
    ok = True
    keys = args.keys or list(FAMILIES)
    unknown = [k for k in keys if k not in FAMILIES]
    if unknown:
        raise UsageError(f"unknown family key(s): {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    for key in keys:
        q = FAMILIES[key]()
        print(f"{q.name}  [{q.key}]")
        print(_wrap("standard:", ", ".join(f"{p.name} ({p.constraint})" for p in q.standard)))
        print(_wrap("natural:", "; ".join(f"{l} = {e}" for l, e in zip(q.natural, q.standard_to_natural))))
        mu = q.closed_forms.get("expectation_standard")
        if mu is None:
            mu = q.mean_map
        print(_wrap("expectation:", "; ".join(f"{m} = {e}" for m, e in zip(q.expectation, mu))))
        for c in check_family(q, rng):
            ok &= c.passed
            print(_wrap("check:", f"{c.name}: {'pass' if c.passed else 'FAIL'} (error {c.error:.2e}; {c.detail})"))
        print()
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def identify(args: argparse.Namespace) -> int:
    """Identify an update rule among the BLR derivations; 0 when it is an instance, 1 when not."""
    from blrkit.reverse import identify as lookup

    try:
        r = lookup(args.update, state=args.state, gradient=args.gradient or (),
                   hyperparameters=args.hyperparameters, space=args.space, seed=args.seed)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    print(r.text())
    if r.matched and args.certificate:
        _certify_to(r.matches[0].candidate.recipe, args.certificate, args.seed, update=args.update,
                    roles={"state": list(r.user.states), "gradient": list(r.user.gradients),
                           "hyperparameters": list(r.user.hyperparameters)})
    return 0 if r.matched else 1


def _certify_to(recipe: str, path: str, seed: int, **kw) -> bool:
    from blrkit.reverse.certificate import certificate, write

    try:
        cert = certificate(recipe, seed=seed, **kw)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    for f in write(cert, path):
        print(f"wrote {f}")
    ms = cert["mutation_score"]
    derived = sum(v["source"] != "hand" for v in ms["variants"])
    print(f"mutation score: the row's live checks reject {ms['killed']} of {ms['total']} wrong variants of the "
          f"emitted step ({derived} made from the derivation by rules, {ms['total'] - derived} written by hand)"
          + (f"; not rejected: {'; '.join(ms['survivors'])}" if ms["survivors"] else ""))
    print("the certificate holds" if cert["holds"] else "the certificate does NOT hold")
    return cert["holds"]


def certify(args: argparse.Namespace) -> int:
    """Write a recipe's certificate, or re-check one (--check FILE); 0 when it holds."""
    if args.check:
        from blrkit.reverse.certificate import check

        try:
            verdict = check(args.check)
        except ValueError as e:
            raise UsageError(str(e)) from None
        print(verdict.text())
        return 0 if verdict.holds else 1
    if not args.recipe:
        raise UsageError("certify: give a RECIPE (or --check FILE)")
    roles = None
    if args.update:
        roles = {"state": args.state or [], "gradient": args.gradient or [], "hyperparameters": args.hyperparameters}
    return 0 if _certify_to(args.recipe, args.output or f"{args.recipe}.certificate.json", args.seed,
                            update=args.update, roles=roles) else 1


class UsageError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


def _names(text: str | None, known, what: str) -> list[str] | None:
    """Split ``a,b,c``; every name must be in ``known``."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(f"unknown {what} {', '.join(unknown) or repr(text)}; known: {', '.join(known)}")
    return names


def _rewritable(stream) -> bool:
    """True if ``stream`` is a terminal that takes ``\r`` and the ANSI erase-line code: a tty, not
    ``TERM=dumb`` (nor unset), and no ``NO_COLOR`` (https://no-color.org) asking for plain output."""
    import os

    term = os.environ.get("TERM", "")
    return stream.isatty() and term not in ("", "dumb") and "NO_COLOR" not in os.environ


def _progress(i: int, total: int, name: str) -> None:
    if _rewritable(sys.stderr):
        print(f"\r\033[K[{i + 1}/{total}] {name} ...", end="", file=sys.stderr, flush=True)
    else:
        print(f"blrkit: [{i + 1}/{total}] {name}", file=sys.stderr, flush=True)


def table(args: argparse.Namespace) -> int:
    """Run every row of the verification table and print it; 0 when all implemented rows pass."""
    import time

    t0 = time.perf_counter()
    import sympy  # noqa: F401 -- timed apart: the first derivation would otherwise pay for it

    t_sympy = time.perf_counter() - t0
    from blrkit.derive import RECIPES
    from blrkit.table import SECTION_ROWS, build_table, exit_status, render

    names = _names(args.rows, list(RECIPES) + list(SECTION_ROWS), "row(s)")
    rows = build_table(names, seed=args.seed, implemented_only=args.implemented or names is not None,
                       progress=None if args.quiet else _progress)
    elapsed = time.perf_counter() - t0
    if not args.quiet:
        if _rewritable(sys.stderr):
            print("\r\033[K", end="", file=sys.stderr)
        print(f"blrkit: {sum(r.implemented for r in rows)} rows checked in {elapsed:.1f} s "
              f"(SymPy import {t_sympy:.1f} s)", file=sys.stderr)
    print(render(rows, args.format))
    return exit_status(rows)


def verify(args: argparse.Namespace) -> int:
    """Run one row's checks on a problem of the given size; print each counterpart's error."""
    from blrkit.derive import RECIPES
    from blrkit.verify import SECTION_ROWS, Problem, memory_bytes, verify_row

    known = list(RECIPES) + list(SECTION_ROWS)
    if args.algorithm not in known:
        raise UsageError(f"unknown algorithm {args.algorithm!r}; known: {', '.join(known)}")
    need = memory_bytes(args.algorithm, Problem(args.seed, args.dim, args.n, args.batch))
    if need > args.max_memory:
        raise UsageError(f"verify {args.algorithm} at dim {args.dim}, n {args.n}, batch {args.batch} would need "
                         f"about {_bytes(need)} of memory, more than --max-memory {_bytes(args.max_memory)}; "
                         "choose a smaller size or raise --max-memory")
    row = verify_row(args.algorithm, seed=args.seed, dim=args.dim, n=args.n, batch=args.batch)
    where = f"{row.group} ({row.section})" if row.group else f"Khan & Rue 2023, Sec. {row.section}"
    print(f"{row.title} ({row.name}): family {row.family}, approximations "
          f"{', '.join(row.approximations) or 'none'}; {where}")
    derived = "nothing to derive" if row.derive_seconds is None else f"derived in {row.derive_seconds:.2f} s"
    print(f"problem: seed {args.seed}, dim {args.dim}, n {args.n}, batch {args.batch}; "
          f"{derived}, checked in {row.check_seconds or 0:.2f} s")
    width = max([len(c.counterpart) for c in row.checks] + [11])
    print(f"  {'counterpart':<{width}}  {'kind':<11}  {'error':>9}  {'unit':<4}  {'tolerance':>9}  status")
    for c in row.checks:  # the error's unit beside it, as in every format of the table (IVON's: s.e.)
        err = "skipped" if c.skipped else f"{c.error:.2e}"
        status = c.note or ("pass" if c.passed else "FAIL")
        print(f"  {c.counterpart:<{width}}  {c.kind:<11}  {err:>9}  {c.unit:<4}  {c.tolerance:>9.0e}  {status}")
    if row.message:
        print(f"  ! {row.message}")
    elif row.checks and not row.independent_ran:
        print("  ! no independent check ran: freshness checks alone verify nothing")
    print(row.status)
    return 0 if row.status == "pass" else 1


_NAMED_LOSSES = {
    "oracle": "a generic differentiable loss known through ∇ℓ and ∇²ℓ (Gaussian families)",
    "quadratic": "linear regression with a Gaussian prior: ridge (multivariate-gaussian)",
    "linear-gaussian": "a linear-Gaussian observation with the predicted state as prior: Kalman (multivariate-gaussian)",
    "conjugate": "the family's conjugate likelihood over data y_i (beta, gamma, dirichlet, gaussian, normal-gamma)",
}


def _parse_loss(text: str, family_key: str):
    """The SymPy loss typed after --loss: in θ's components (Gaussians), or in θ and one datum y."""
    import re

    import sympy as sp

    from blrkit.derive.blr import GAUSSIAN_KINDS
    from blrkit.derive.conjugate import I, Y, Likelihood
    from blrkit.derive.parsing import parse_expression
    from blrkit.families import FAMILIES

    if family_key in GAUSSIAN_KINDS:
        names = {"theta"} | set(re.findall(r"\btheta_\d+\b", text))
        try:
            return parse_expression(text, {n: sp.Symbol(n, real=True) for n in names})
        except ValueError as e:
            raise UsageError(f"{e} (a Gaussian's θ is written theta, or theta_1, …, theta_D)") from None
    family = FAMILIES[family_key]()
    local = {s.name: s for s in family.theta}
    local["y"] = Y[I]
    try:
        expr = parse_expression(text, local)
    except ValueError as e:
        raise UsageError(f"{e} (the loss of one datum y in {', '.join(s.name for s in family.theta)})") from None
    return Likelihood("user-given", expr) if expr.has(Y) else expr


def _loss_and_prior(args, family_key: str):
    """Turn --loss/--glm/--prior into derive()'s (loss, prior)."""
    from blrkit.derive import OracleLoss, glm_loss, linear_gaussian_loss, quadratic_loss
    from blrkit.derive.blr import GAUSSIAN_KINDS

    gaussian = family_key in GAUSSIAN_KINDS
    prior = {"default": None, "none": None if gaussian else "none", "isotropic": "isotropic"}[args.prior]
    if args.prior == "isotropic" and not gaussian:
        raise UsageError("--prior isotropic is N(0, α⁻¹I), for the Gaussian families")
    if args.glm is not None:
        if not gaussian:
            raise UsageError(f"--glm needs a Gaussian family, not {family_key}")
        if args.loss is not None:
            raise UsageError("give either --loss or --glm")
        try:
            return glm_loss(args.glm), prior
        except ValueError as e:
            raise UsageError(f"--glm {args.glm!r}: {e}") from None
    name = args.loss
    if name in (None, "oracle", "conjugate"):
        if gaussian and name == "conjugate":
            raise UsageError("'conjugate' is for the non-Gaussian families; a Gaussian takes oracle, quadratic, "
                             "linear-gaussian, --glm F or an expression in theta_1, …")
        if not gaussian and name == "oracle":
            raise UsageError(f"an oracle loss needs a Gaussian family, not {family_key}")
        if gaussian and args.prior == "default" and args.prior_given:
            raise UsageError("an oracle loss takes no separate prior: put it into the loss, "
                             "ℓ̄ = ℓ − log p₀ (use --prior none)")
        return (OracleLoss() if gaussian else None), prior
    if name in ("quadratic", "linear-gaussian"):
        if not gaussian:
            raise UsageError(f"the {name} loss is for Gaussian families; for {family_key} give a loss in θ and y")
        loss, own = {"quadratic": quadratic_loss, "linear-gaussian": linear_gaussian_loss}[name]()
        return loss, (None if args.prior == "none" else own)
    return _parse_loss(name, family_key), prior


def derive(args: argparse.Namespace) -> int:
    """Print a derived BLR update (or the whole derivation, or the emitted NumPy code)."""
    from blrkit.derive import APPROXIMATIONS, DerivationError, GLM_LOSSES
    from blrkit.derive import derive as derive_update
    from blrkit.derive.approximations import StepSize, as_approximation
    from blrkit.derive.parsing import check_step_size
    from blrkit.families import FAMILIES

    if args.list:
        print("families (FAMILY):")
        for key, reason in _derivable().items():
            print(f"  {key:<26} {reason}")
        print("approximations (--approx, in the order given):")
        for key, a in APPROXIMATIONS.items():
            print(f"  {key:<18} {a.name}; {a.citation}")
        print(f"  {'rho=<number>':<18} a step size in (0, 1], e.g. rho=0.5 or rho=1/4; Khan & Rue 2023, Sec. 1.2")
        print("losses (--loss): " + "; ".join(f"{k}: {v}" for k, v in _NAMED_LOSSES.items()))
        print("  or an expression in θ: theta_1, …, theta_D (Gaussians), theta and one datum y (other families)")
        print("GLM losses (--glm, Gaussians): " + ", ".join(GLM_LOSSES) + ", or f(eta, y) as an expression")
        return 0
    if args.family is None:
        raise UsageError("give a FAMILY (see blrkit derive --list)")
    from blrkit.derive.known import COMPOSITE

    if args.family not in FAMILIES and args.family not in COMPOSITE:
        raise UsageError(f"unknown family {args.family!r}; accepted: {', '.join([*FAMILIES, *COMPOSITE])}")
    approx = args.approx or []
    for a in approx:
        try:
            step = as_approximation(a)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if isinstance(step, StepSize):
            try:
                check_step_size(step.value)
            except ValueError as e:
                raise UsageError(f"--approx {a}: {e}") from None
    if args.family in COMPOSITE:  # the model is the candidate's own: no loss, no prior
        if args.loss is not None or args.glm is not None or args.prior_given:
            raise UsageError(f"{args.family} derives its own model: give no --loss, --glm or --prior")
        loss, prior = None, None
    else:
        loss, prior = _loss_and_prior(args, args.family)
    if args.ladder:
        return _ladder(args, derive_update, loss, prior, approx)
    if args.format == "beamer":
        raise UsageError("--format beamer prints the slides of the approximation ladder: add --ladder")
    try:
        d = derive_update(args.family, loss, prior, approx, rule=args.rule)
    except Exception as e:  # noqa: BLE001 -- SymPy raises many types: none may reach the user as a traceback
        what = f"--glm {args.glm}" if args.glm else f"loss {args.loss or 'default'}"
        if not isinstance(e, (DerivationError, ValueError, TypeError)):
            e = f"SymPy could not carry this derivation through ({type(e).__name__}: {e})"
        raise UsageError(f"cannot derive {args.family} with approximations "
                         f"{', '.join(approx) or 'none'} and {what}: {e}") from None
    if args.certify:
        return _certify(d)
    out = {"latex": d.latex, "markdown": d.markdown, "text": d.text}
    print(d.emit() if args.format == "python" else out[args.format](steps=args.steps))
    return 0


def _ladder(args, derive_update, loss, prior, approx) -> int:
    """Print the approximation ladder of the request: the update after each approximation in turn."""
    from blrkit.derive.ladder import ladder

    if args.format == "python" or args.steps or args.certify:
        used = "--format python" if args.format == "python" else ("--steps" if args.steps else "--certify")
        raise UsageError(f"--ladder prints each rung's update as latex, markdown, text or beamer: drop {used}")
    try:
        steps = ladder(derive_update, args.family, loss, prior, approx, rule=args.rule)
    except ValueError as e:
        raise UsageError(f"--ladder: {e}") from None
    print({"latex": steps.latex, "markdown": steps.markdown, "text": steps.text, "beamer": steps.beamer}[args.format]())
    return 0


def _certify(d) -> int:
    """Print ``d``'s numerical certificate: exit 0 if it passes, 1 if it fails (a failure is a bug in the
    engine, never a warning), 2 if no certificate can be computed for this request."""
    from blrkit.derive.certify import CertificateError, certify

    try:
        c = certify(d)
    except CertificateError as e:
        raise UsageError(f"no numerical certificate: {e}") from None
    print(c.text())
    if c.counterpart:
        return 0
    return 0 if c.passed else 1


def _derivable() -> dict:
    """Family key -> what derives with it (or why nothing does yet), for ``derive --list``."""
    from blrkit.derive.known import DERIVABLE

    return {key: why for key, (_, why) in DERIVABLE.items()}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=_WIDTH)

    def _get_help_string(self, action):
        # the recipe names are read only when help is printed, so parsing never imports SymPy
        if action.dest == "algorithm":
            return action.help + ": " + ", ".join(_recipe_names())
        return super()._get_help_string(action)


_TABLE_EPILOG = """\
Each implemented row really runs: derive -> the public driver (which runs the emitted step) on a
seeded problem -> the counterpart(s) -> the error. Columns: "Kind" says whether a counterpart is
independent of the emitted step ("indep": the textbook version in blrkit.classical, SciPy, Bayes'
rule, scikit-learn / filterpy / pykalman when installed, "skipped (not installed)" otherwise) or a
freshness check ("fresh": the step compiled from the derivation, the same code). A row passes only
if an independent check ran and every check that ran is within its tolerance. "Error" is
max|a - b| / max|b| unless marked s.e. (standard errors of a Monte-Carlo estimate: IVON); "Derive"
is the seconds SymPy took to derive the update. Rows are grouped as the paper groups Table 1
(optimisation, deep learning, approximate Bayesian inference), blrkit's extra rows marked +. The
summary counts the 17 rows of Table 1 (all of them, also with --rows) and blrkit's extra rows
apart; a "Duality" section follows (the sites of a solution sum to it, exact leave-one-out for
ridge, K-prior gradient reconstruction: rows that derive nothing, checked the same way).
--format latex writes a whole document (article, A4, booktabs and longtable).
Progress and the total time go to stderr (no control codes with TERM=dumb or NO_COLOR).

exit status: 0 every implemented row passes, 1 a row fails (a derivation or driver error is a
failing row with its message), 2 bad arguments.

examples:
  blrkit table
  blrkit table --implemented --format markdown > table.md
  blrkit table --format latex > table1.tex && pdflatex table1.tex
  blrkit table --format beamer > slides.tex && pdflatex slides.tex
  blrkit table --rows newton,ridge --format json
"""

_VERIFY_EPILOG = """\
The problem is seeded: DIM parameters (the state dimension for the Kalman filter), N data points
(time steps for the Kalman filter; observations for conjugate Bayes), BATCH independent problems
solved at once (the drivers' leading batch axes). A size whose check would need more memory than
--max-memory (default 2G) is refused, saying how much it would need.

exit status: 0 every counterpart within tolerance and an independent one ran, 1 otherwise,
2 bad arguments (or a size that does not fit).

examples:
  blrkit verify newton
  blrkit verify kalman_update --dim 6 --n 300 --batch 1
  blrkit verify ridge --seed 3 --dim 20 --n 1000
"""

_DERIVE_EPILOG = """\
Losses: 'oracle' (default; a generic loss known through its gradient and Hessian),
'quadratic' (ridge regression, with its Gaussian prior), 'linear-gaussian' (the Kalman
measurement update, with the predicted state as prior), --glm F (a GLM loss sum_i f(x_i'θ, y_i),
e.g. logistic or poisson) or an expression in theta_1, ..., theta_D for the Gaussian families.
For the other families the default 'conjugate' is the conjugate likelihood; or give a loss in
the family's θ (and one datum y). Expressions are read without running Python: arithmetic,
numbers, θ, y and the functions exp, log, sqrt, ... only.

exit status: 0 success; 1 a failed certificate (--certify); 2 an unknown family or approximation, an
expression SymPy cannot parse or a combination that makes no sense (one line on stderr).

examples:
  blrkit derive --list
  blrkit derive multivariate-gaussian --approx delta --approx rho=1           # Newton
  blrkit derive gaussian-fixed-covariance --approx delta --steps --format markdown
  blrkit derive multivariate-gaussian --approx rho=1 --loss quadratic --format python
  blrkit derive beta --approx rho=1 --loss="-(y*log(theta) + (1 - y)*log(1 - theta))"
  blrkit derive multivariate-gaussian --glm logistic --prior isotropic --approx delta --approx rho=1
  blrkit derive multivariate-gaussian --loss "(1 - theta_1)**2 + 100*(theta_2 - theta_1**2)**2" --approx delta
  blrkit derive gamma --loss "theta**2 - 3*log(theta)" --approx rho=0.5
  blrkit derive gamma --loss "theta**2 - 3*log(theta)" --approx rho=0.5 --certify
  blrkit derive multivariate-gaussian --approx delta --approx rho=1 --ladder --format beamer > newton.tex
  blrkit derive diagonal-gaussian --prior isotropic --rule improved --approx reparam-hessian --approx stochastic \
      --approx hessian-scale --approx effective-sample-size --approx decoupled-step \
      --approx gradient-average --approx gradient-bias-correction                    # IVON
  (write --loss=EXPR when EXPR starts with "-")
"""

_FAMILIES_EPILOG = """\
exit status: 0 every identity check passes, 1 otherwise, 2 an unknown family key.

examples:
  blrkit families
  blrkit families beta gamma --seed 3
"""


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer (a seed of numpy.random), got {value}")
    return value


_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def _memory(text: str) -> float:
    """``"512M"``, ``"2G"``, ``"1.5T"`` or a number of bytes."""
    t = text.strip().upper().removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[:-1] if unit else t) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M, 2G or 1T, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return value


def _bytes(n: float) -> str:
    for unit in ("T", "G", "M", "K"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.1f} {unit}B"
    return f"{n:.0f} B"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    from blrkit.table import FORMATS

    parser = argparse.ArgumentParser(
        prog="blrkit", formatter_class=_Formatter,
        description="Algorithms from the Bayesian learning rule (Khan & Rue 2023).",
        epilog="start with:  blrkit table        (Table 1 of the paper, checked live)\n"
               "more help:   blrkit COMMAND --help")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("table", formatter_class=_Formatter, epilog=_TABLE_EPILOG,
                       help="reproduce Table 1 of the paper with live checks",
                       description="Reproduce Table 1 of Khan & Rue (2023): every algorithm blrkit derives, "
                                   "checked live against its classical counterparts, plus the rows not yet "
                                   "implemented.")
    p.add_argument("--format", choices=FORMATS, default="terminal",
                   help="terminal (default; aligned, 100 columns), markdown (each row linked to its notebook), "
                        "latex (a document for pdflatex: the map grouped as the paper's Table 1, then the checks, "
                        "split across A4 pages), beamer (16:9 slides for pdflatex, a few rows a slide; beamer needs pgf) or "
                        "json (one object per row)")
    p.add_argument("--implemented", action="store_true", help="leave out the Table 1 rows not yet implemented")
    p.add_argument("--rows", metavar="NAME,...", help="run only these rows (recipe names; see blrkit verify --help)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the check problems (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress or timing on stderr")
    p.set_defaults(func=table)

    p = sub.add_parser("verify", formatter_class=_Formatter, epilog=_VERIFY_EPILOG,
                       help="run one row's checks at a chosen problem size",
                       description="Run one row of the table on a seeded problem of the given size and "
                                   "print every counterpart's error, tolerance and status.")
    p.add_argument("algorithm", metavar="ALGORITHM", help="a recipe name")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the problem (default 0)")
    p.add_argument("--dim", type=_positive_int, default=4, help="number of parameters D (default 4)")
    p.add_argument("--n", type=_positive_int, default=100, help="number of data points N (default 100)")
    p.add_argument("--batch", type=_positive_int, default=2, help="independent problems at once (default 2)")
    p.add_argument("--max-memory", type=_memory, default=_memory("2G"), metavar="SIZE",
                   help="refuse a size whose check would need more memory than this (default 2G)")
    p.set_defaults(func=verify)

    p = sub.add_parser("derive", formatter_class=_Formatter, epilog=_DERIVE_EPILOG,
                       help="print a derived update as LaTeX, Markdown, text or NumPy code",
                       description="Derive the BLR update of FAMILY under the approximations (applied in "
                                   "the order given) and print it.")
    p.add_argument("family", metavar="FAMILY", nargs="?", help="candidate family key (see --list)")
    p.add_argument("--list", action="store_true", help="list the accepted families, approximations and losses")
    p.add_argument("--approx", action="append", metavar="NAME",
                   help="an approximation (repeatable): delta, fixed-covariance, gauss-newton, stochastic, "
                        "rho=1 or any rho=<number in (0, 1]>, … (all: --list)")
    p.add_argument("--rule", choices=("blr", "improved"), default="blr",
                   help="blr (default) or improved: the improved BLR of Lin, Schmidt & Khan (2020), positive "
                        "definite for every rho (Gaussians)")
    p.add_argument("--loss", metavar="EXPR", help="oracle (Gaussian default), quadratic, linear-gaussian, "
                                                  "conjugate (default of other families), or an expression in θ")
    p.add_argument("--glm", metavar="F", help="a per-example loss f(eta, y) of a GLM, eta = x_iᵀθ: logistic, "
                                              "poisson, probit, squared, or an expression (Gaussian families)")
    p.add_argument("--prior", choices=("default", "none", "isotropic"), default="default",
                   help="default: the loss's own prior (ridge, Kalman; a non-Gaussian family's prior in the "
                        "family); none: ℓ̄ = ℓ; isotropic: N(0, α⁻¹I) (Gaussians)")
    p.add_argument("--steps", action="store_true", help="print the whole derivation, not only the update")
    p.add_argument("--certify", action="store_true",
                   help="run the emitted step at random states against a BLR step computed numerically (quadrature, "
                        "complex steps) and print the certificate; exit 1 if it fails")
    p.add_argument("--ladder", action="store_true",
                   help="the approximation ladder: the update after each approximation in turn (exact BLR, + the "
                        "first, + the second, ...), each rung derived again, the terms the next one removes "
                        "highlighted (red in latex, markdown and beamer; [-...-] in text)")
    p.add_argument("--format", choices=("latex", "markdown", "text", "python", "beamer"), default="text",
                   help="latex (align*), markdown ($$ blocks), text (default), python (the emitted module) or, "
                        "with --ladder, beamer (slides for pdflatex, one frame per approximation)")
    p.set_defaults(func=derive)

    p = sub.add_parser("families", formatter_class=_Formatter, epilog=_FAMILIES_EPILOG,
                       help="list the exponential families and check their identities live",
                       description="List every registered family with its standard, natural and expectation "
                                   "parameters, and run its identity checks live.")
    p.add_argument("keys", nargs="*", help="family keys (default: all)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the random parameter points (default 0)")
    p.set_defaults(func=families)

    p = sub.add_parser("identify", formatter_class=_Formatter,
                       help="is this update a BLR instance? find the derivation and the parameter mapping",
                       description="Search the BLR derivations for one whose update equals UPDATE up to a renaming "
                                   "of the states and gradients and a reparameterisation of the hyperparameters; "
                                   "else print the closest with their residuals. Exit 0 if an instance, 1 if not.",
                       epilog="example:\n  blrkit identify \"m_new = m - lr*g/(sqrt(v_new) + eps); "
                              "v_new = b2*v + (1 - b2)*g**2\" --state m v --gradient g\n"
                              "syntax: assignments 'x_new = expression' separated by ';', arithmetic, sqrt, exp, log, "
                              "abs, inv, sum (over the data); see docs/identify.md")
    p.add_argument("update", metavar="UPDATE", help="the update, e.g. 'm_new = m - lr*g'")
    p.add_argument("--state", nargs="+", required=True, metavar="NAME", help="the states (each assigned as NAME_new)")
    p.add_argument("--gradient", nargs="+", metavar="NAME", help="symbols standing for gradients, Hessians, ...")
    p.add_argument("--hyperparameters", nargs="+", metavar="NAME",
                   help="the other symbols (default: every symbol that is not a state or gradient)")
    p.add_argument("--space", choices=("recipes", "engine"), default="recipes",
                   help="recipes (default) or engine: also each recipe's other rule, rho symbolic, one "
                        "approximation fewer")
    p.add_argument("--certificate", metavar="FILE", help="when identified, write its certificate to FILE (JSON, "
                                                         "and .tex/.pdf beside it)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the random points and checks (default 0)")
    p.set_defaults(func=identify)

    p = sub.add_parser("certify", formatter_class=_Formatter,
                       help="write a citable certificate of a recipe (or re-check one with --check)",
                       description="Write RECIPE's certificate: the derivation, the identity with a user's form "
                                   "(--update), the numeric checks with their counterparts, tolerances, seeds, "
                                   "versions, the emitted code's hash and the mutation score (how many wrong "
                                   "variants of the step the row's checks reject: those the rules of "
                                   "blrkit.verify.variants make from the derivation, and the hand-written ones, each "
                                   "named with its source and verdict), as JSON plus LaTeX (and PDF with pdflatex). "
                                   "--check FILE re-runs a certificate here. Exit 0 if it holds.")
    p.add_argument("recipe", metavar="RECIPE", nargs="?", help="a recipe name")
    p.add_argument("--check", metavar="FILE", help="re-run the certificate FILE and say whether it still holds")
    p.add_argument("--output", "-o", metavar="FILE", help="the JSON file (default RECIPE.certificate.json)")
    p.add_argument("--update", metavar="UPDATE", help="a user's update to certify as RECIPE (see blrkit identify)")
    p.add_argument("--state", nargs="+", metavar="NAME", help="the update's states")
    p.add_argument("--gradient", nargs="+", metavar="NAME", help="the update's gradient symbols")
    p.add_argument("--hyperparameters", nargs="+", metavar="NAME", help="the update's hyperparameters")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every check (default 0)")
    p.set_defaults(func=certify)
    return parser


def _recipe_names() -> list[str]:
    """The recipe names, for --help (RECIPES is read from its module without deriving anything)."""
    from blrkit.derive.recipes import RECIPES

    return list(RECIPES)


#: ASCII stand-ins for the symbols blrkit prints, for a terminal that cannot show them
_ASCII = {"–": "-", "—": "-", "’": "'", "‖": "||", "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "→": "->",
          "←": "<-", "↔": "<->", "×": "x", "·": "*", "⊙": "*", "∇": "grad ", "∑": "sum", "∈": " in ", "∝": "~",
          "ℓ": "l", "√": "sqrt", "∞": "inf", "…": "...", "⁻": "^-", "ᵀ": "^T", "∂": "d", "−": "-"}


def _ascii_symbols(err: UnicodeEncodeError):
    """Codec error handler: write each symbol the stream cannot encode in ASCII (ρ → rho, – → -)."""
    import unicodedata

    out = []
    for ch in err.object[err.start:err.end]:
        name = unicodedata.name(ch, "")
        if ch in _ASCII:
            out.append(_ASCII[ch])
        elif name.startswith("GREEK SMALL LETTER "):
            out.append(name.rsplit(" ", 1)[-1].lower())
        elif name.startswith("GREEK CAPITAL LETTER "):
            out.append(name.rsplit(" ", 1)[-1].capitalize())
        elif unicodedata.combining(ch):
            out.append("")
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(("^" + plain if name.startswith(("SUPERSCRIPT", "MODIFIER LETTER")) else plain) or "?")
    return "".join(out), err.end


def _use_ascii_if_needed() -> None:
    """If stdout or stderr cannot encode blrkit's symbols (``PYTHONIOENCODING=ascii``, a C locale),
    write ASCII stand-ins instead of failing with a ``UnicodeEncodeError``."""
    import codecs

    try:
        codecs.lookup_error("blrkit-ascii")
    except LookupError:
        codecs.register_error("blrkit-ascii", _ascii_symbols)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "ρ–∇θ".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            if hasattr(stream, "reconfigure"):
                stream.reconfigure(errors="blrkit-ascii")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``blrkit`` console script: the exit status (0, 1 or 2)."""
    import os

    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the descriptor closed (`blrkit … >&-`): the output goes
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # nowhere, quietly; the status still tells
    _use_ascii_if_needed()
    args = _build_parser().parse_args(argv)
    args.prior_given = any(a == "--prior" or a.startswith("--prior=") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        status = args.func(args)
        sys.stdout.flush()  # a full disk shows here, not at exit
        return status
    except UsageError as e:
        print(f"blrkit: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `blrkit derive … | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0
    except OSError as e:  # e.g. stdout on a full disk: say so, without a traceback
        print(f"blrkit: error: cannot write the output: {e.strerror or e}", file=sys.stderr)
        try:  # nothing more can be written; let the exit's flush go nowhere
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
