"""The cheap tests run before the symbolic solve (blrkit.reverse.prune): each refuses, by its own argument, a
candidate that cannot match, and none refuses a true match.

The expected refusals are worked by hand below, from the recipes' textbook updates; that every recipe's
hand-written form is still identified with its mapping (tests/reverse/test_recipes.py) is the soundness check
over all recipes.
"""

from blrkit.reverse import read_update
from blrkit.reverse.candidates import recipe_candidates
from blrkit.reverse.prune import screen
from blrkit.reverse.search import attempt, renamings

#: RMSprop with the sign of the step flipped (tests/reverse/test_identify.py's wrong variant)
FLIPPED = ("v_new = b2*v + (1 - b2)*g**2; m_new = m + lr*g/(sqrt(v_new) + eps)", "m v", "g", "lr b2 eps")


def _screenings(text, state, gradient, hyper, key):
    user = read_update(text, state=state, gradient=gradient, hyperparameters=hyper)
    cand = next(c for c in recipe_candidates() if c.key == key)
    return [screen(user, cand, sigma, gamma) for sigma, gamma in renamings(user, cand)]


def _refused(screening, state, words):
    return any(r.state == state and words in r.reason for r in screening.refusals)


def test_nothing_to_solve_and_a_point_differs():
    """Newton's S_new = H has no parameter: H + 1 differs from it at any point (test 1)."""
    [s] = _screenings("S_new = H + 1; m_new = m - inv(S_new)*g", "m S", "g H", None, "newton")
    assert _refused(s, "S", "no parameter to solve for")


def test_a_degree_above_the_derivations():
    """OGN's s_new = (1 - ρ) s + ρ (N/M) h is linear in the squared-gradient oracle h whatever ρ, N, M; RMSprop's
    v_new = b2 v + (1 - b2) g² has degree 2 in g (test 2)."""
    [s] = _screenings(*FLIPPED, "ogn")
    assert _refused(s, "v", "degree 2 in g") and "at most 1" in s.refusals[0].reason


def test_a_coefficient_free_of_the_parameters():
    """(1 - r) S + r H + 1 against damped Newton's (1 - ρ) S + ρ H: the difference's constant term is 1, whatever ρ
    (test 3)."""
    [s] = _screenings("S_new = (1 - r)*S + r*H + 1; m_new = m - r*inv(S_new)*g", "m S", "g H", "r", "damped_newton")
    assert _refused(s, "S", "free of the states and gradients")


def test_equations_without_a_common_solution():
    """VOGN without (1 - ρ): s_new = s + r (N/M) gg against (1 - ρ) s + ρ (n/B) gg. The coefficient of s asks
    1 = 1 - ρ, so ρ = 0, and that of gg then asks r N/M = 0: no solution (test 4), while each coefficient alone has
    one."""
    [s] = _screenings("s_new = s + r*N/M*gg; m_new = m - r*N/M*g/s_new", "m s", "g gg", "r N M", "vogn")
    assert _refused(s, "s", "have no solution") and not _refused(s, "m", "")


def test_a_user_form_not_in_lowest_terms_still_matches():
    """((1 - r)²S² - r²H²)/((1 - r)S - rH) is damped Newton's (1 - r)S + rH in one dimension: the user's side is put
    in lowest terms before its degrees are compared (else degree 2 in S would exceed the derivation's 1), and the
    solver then matches it."""
    text = "S_new = ((1 - r)**2*S**2 - r**2*H**2)/((1 - r)*S - r*H); m_new = m - r*inv(S_new)*g"
    user = read_update(text, state="m S", gradient="g H", hyperparameters="r")
    cand = next(c for c in recipe_candidates() if c.key == "damped_newton")
    [(sigma, gamma)] = list(renamings(user, cand))
    assert screen(user, cand, sigma, gamma).possible
    assert attempt(user, cand, sigma, gamma).exact


def test_only_rmsprop_is_solved_for_rmsprop_with_the_sign_flipped():
    """Every other recipe with two states reading the same states and gradients is refused before solving."""
    user = read_update(FLIPPED[0], state=FLIPPED[1], gradient=FLIPPED[2], hyperparameters=FLIPPED[3])
    possible = {c.key for c in recipe_candidates() for sigma, gamma in renamings(user, c)
                if screen(user, c, sigma, gamma).possible}
    assert possible == {"rmsprop"}
