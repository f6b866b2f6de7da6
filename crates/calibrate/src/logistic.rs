//! Weighted, L2-penalised logistic regression with bounds on the
//! coefficients: what `fit` and `calibrate --tune` need and linfa-logistic
//! does not have (sample weights, sign constraints, speed on tall sparse
//! matrices).
//!
//! It minimises scikit-learn's objective for `LogisticRegression(C=C,
//! class_weight=...)`,
//!
//! ```text
//!   ½‖β‖² + C Σᵢ wᵢ [log(1 + e^{zᵢ}) − yᵢ zᵢ],   zᵢ = xᵢ·β + b,
//! ```
//!
//! with an unpenalised intercept `b`, subject to `lo ≤ β ≤ hi`, by projected
//! Newton steps: each step solves the bounded quadratic model exactly enough
//! by coordinate descent on the (items + 1)² Hessian, then backtracks on the
//! objective. Item counts are sparse (most items fire for few households),
//! so rows are held as their non-zero entries and a step costs the number
//! of households times the square of the items that fired in a row, not
//! times the square of all items.

/// Rows of a design matrix, each as its non-zero entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Design {
    /// Number of columns (coefficients, without the intercept).
    pub columns: usize,
    starts: Vec<usize>,
    index: Vec<u32>,
    value: Vec<f64>,
}

impl Design {
    /// The rows `rows` of a dense matrix (households × items).
    pub fn from_rows(x: &ndarray::Array2<f64>, rows: &[usize]) -> Design {
        let mut d = Design { columns: x.ncols(), starts: vec![0], ..Design::default() };
        for &i in rows {
            for (j, &v) in x.row(i).iter().enumerate() {
                if v != 0.0 {
                    d.index.push(j as u32);
                    d.value.push(v);
                }
            }
            d.starts.push(d.index.len());
        }
        d
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.starts[i]..self.starts[i + 1];
        (&self.index[r.clone()], &self.value[r])
    }

    /// `x·β + b` for every row.
    pub fn linear(&self, beta: &[f64], intercept: f64) -> Vec<f64> {
        (0..self.len())
            .map(|i| {
                let (idx, val) = self.row(i);
                intercept + idx.iter().zip(val).map(|(&j, &v)| v * beta[j as usize]).sum::<f64>()
            })
            .collect()
    }
}

/// Per-row weights that make both outcomes weigh the same in total:
/// scikit-learn's `class_weight="balanced"`, `n / (2 n_class)`.
pub fn balanced_weights(y: &[bool]) -> Vec<f64> {
    let n = y.len() as f64;
    let positive = y.iter().filter(|&&v| v).count() as f64;
    let (wp, wn) = (n / (2.0 * positive.max(1.0)), n / (2.0 * (n - positive).max(1.0)));
    y.iter().map(|&v| if v { wp } else { wn }).collect()
}

/// A fitted regression.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogisticFit {
    /// One coefficient per column.
    pub coefficients: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the projected gradient fell below the tolerance.
    pub converged: bool,
}

/// What to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem<'a> {
    /// The rows.
    pub x: &'a Design,
    /// The outcome of each row.
    pub y: &'a [bool],
    /// The weight of each row.
    pub weights: &'a [f64],
    /// Inverse strength of the penalty (scikit-learn's `C`);
    /// `f64::INFINITY` for none.
    pub c: f64,
    /// Per column, the lowest and highest coefficient allowed
    /// (`(0, ∞)` keeps a coefficient non-negative).
    pub bounds: &'a [(f64, f64)],
}

const MAX_ITERATIONS: usize = 100;

fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Problem<'_> {
    /// The penalty weight in the scaled objective `λ/2 ‖β‖² + Σ w loss`
    /// (`λ = 1/C`), which has the same minimum as scikit-learn's.
    fn lambda(&self) -> f64 {
        if self.c.is_finite() {
            1.0 / self.c
        } else {
            0.0
        }
    }

    /// The scaled objective at `theta`, and `x·β + b` for every row.
    fn objective(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let p = self.x.columns;
        let z = self.x.linear(&theta[..p], theta[p]);
        let loss: f64 = z
            .iter()
            .zip(self.y)
            .zip(self.weights)
            .map(|((&z, &y), &w)| w * (softplus(z) - if y { z } else { 0.0 }))
            .sum();
        (0.5 * self.lambda() * theta[..p].iter().map(|b| b * b).sum::<f64>() + loss, z)
    }

    /// Fits from zero, or from `start` (a fit of the same columns with
    /// another `C`, which saves steps along a path of penalties).
    pub fn fit(&self, start: Option<&LogisticFit>) -> LogisticFit {
        let p = self.x.columns;
        let k = p + 1;
        let (lo, hi): (Vec<f64>, Vec<f64>) =
            self.bounds.iter().copied().chain(std::iter::once((f64::NEG_INFINITY, f64::INFINITY))).unzip();
        let mut theta: Vec<f64> = match start {
            Some(s) => s.coefficients.iter().copied().chain(std::iter::once(s.intercept)).collect(),
            None => vec![0.0; k],
        };
        for j in 0..k {
            theta[j] = theta[j].clamp(lo[j], hi[j]);
        }
        let lambda = self.lambda();
        let total_weight: f64 = self.weights.iter().sum();
        let tolerance = 1e-9 * total_weight.max(1.0);
        let (mut f, mut z) = self.objective(&theta);
        let (mut g, mut h) = (vec![0.0; k], vec![0.0; k * k]);
        let mut iterations = 0;
        let mut converged = false;
        while iterations < MAX_ITERATIONS {
            // gradient and Hessian of the scaled objective
            g.iter_mut().for_each(|v| *v = 0.0);
            h.iter_mut().for_each(|v| *v = 0.0);
            for (i, &zi) in z.iter().enumerate() {
                let s = sigmoid(zi);
                let w = self.weights[i];
                let r = w * (s - f64::from(u8::from(self.y[i])));
                let d = w * s * (1.0 - s);
                let (idx, val) = self.x.row(i);
                for (a, (&ja, &va)) in idx.iter().zip(val).enumerate() {
                    let ja = ja as usize;
                    g[ja] += r * va;
                    let row = &mut h[ja * k..];
                    for (&jb, &vb) in idx[..=a].iter().zip(&val[..=a]) {
                        row[jb as usize] += d * va * vb;
                    }
                    h[p * k + ja] += d * va;
                }
                g[p] += r;
                h[p * k + p] += d;
            }
            // only the lower triangle was filled (columns in a row are in
            // ascending order, the intercept last); mirror it
            for a in 0..k {
                for b in 0..a {
                    h[b * k + a] = h[a * k + b];
                }
            }
            for j in 0..p {
                g[j] += lambda * theta[j];
                h[j * k + j] += lambda;
            }
            let projected = (0..k)
                .map(|j| {
                    if (theta[j] <= lo[j] && g[j] > 0.0) || (theta[j] >= hi[j] && g[j] < 0.0) {
                        0.0
                    } else {
                        g[j].abs()
                    }
                })
                .fold(0.0, f64::max);
            if projected <= tolerance {
                converged = true;
                break;
            }
            iterations += 1;
            let d = newton_direction(&g, &h, &theta, &lo, &hi);
            let slope: f64 = g.iter().zip(&d).map(|(g, d)| g * d).sum();
            // the Newton decrement: what the step could still gain. Below
            // the objective's own rounding, no step can be told from none
            if -slope <= 1e-14 * f.abs().max(1.0) {
                converged = true;
                break;
            }
            // a coordinate the quadratic model sends to its bound goes there
            // at any step length: a shortened step would leave it just
            // inside, where the gradient pushes it on, and later steps
            // would only halve the distance
            let to_bound: Vec<Option<f64>> = (0..k)
                .map(|j| {
                    let x = theta[j] + d[j];
                    (d[j] != 0.0 && (x == lo[j] || x == hi[j])).then_some(x)
                })
                .collect();
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..40 {
                // first with the bound moves whole, then, should they raise
                // the objective (correlated items), along the plain step,
                // which descends for a step short enough
                let snapped: Vec<f64> = (0..k).map(|j| to_bound[j].unwrap_or(theta[j] + t * d[j])).collect();
                let plain: Vec<f64> = (0..k).map(|j| theta[j] + t * d[j]).collect();
                let same = snapped == plain;
                for next in [Some(snapped), (!same).then_some(plain)].into_iter().flatten() {
                    let gain: f64 = (0..k).map(|j| g[j] * (next[j] - theta[j])).sum();
                    let (fn_, zn) = self.objective(&next);
                    if gain < 0.0 && fn_ <= f + 1e-4 * gain {
                        (theta, f, z) = (next, fn_, zn);
                        accepted = true;
                        break;
                    }
                }
                if accepted {
                    break;
                }
                if -slope <= 1e-9 * f.abs().max(1.0) {
                    // a full Newton step that gains nothing measurable: the
                    // optimum, to the objective's precision
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                converged = -slope <= 1e-9 * f.abs().max(1.0) || projected <= tolerance * 1e3;
                break;
            }
        }
        let intercept = theta[p];
        theta.truncate(p);
        LogisticFit { coefficients: theta, intercept, iterations, converged }
    }
}

/// The step `d` that minimises `g·d + ½ dᵀHd` with `lo ≤ θ + d ≤ hi`, by
/// cyclic coordinate descent (exact for a box and a positive definite `H`).
fn newton_direction(g: &[f64], h: &[f64], theta: &[f64], lo: &[f64], hi: &[f64]) -> Vec<f64> {
    let k = g.len();
    let mut d = vec![0.0; k];
    let mut hd = vec![0.0; k];
    for _ in 0..500 {
        let mut largest = 0.0f64;
        for j in 0..k {
            let hjj = h[j * k + j].max(1e-12);
            let wanted = d[j] - (g[j] + hd[j]) / hjj;
            let next = wanted.clamp(lo[j] - theta[j], hi[j] - theta[j]);
            let change = next - d[j];
            if change != 0.0 {
                for (m, v) in hd.iter_mut().enumerate() {
                    *v += h[m * k + j] * change;
                }
                d[j] = next;
                largest = largest.max(change.abs() * hjj.sqrt());
            }
        }
        if largest < 1e-13 {
            break;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A recorded case: 40 households, 3 items, outcomes fixed by a rule
    /// written here (so the data is in the test, not a file).
    fn case() -> (Array2<f64>, Vec<bool>) {
        let n = 40;
        let mut x = Array2::zeros((n, 3));
        let mut y = vec![false; n];
        for i in 0..n {
            x[[i, 0]] = f64::from(u8::from(i % 3 == 0));
            x[[i, 1]] = (i % 4) as f64 / 2.0;
            x[[i, 2]] = f64::from(u8::from(i % 5 == 1)) / (1.0 + (i % 3) as f64);
            y[i] = (i * 7 + 3) % 10 < 3 || (i % 3 == 0 && i % 2 == 0) || (i % 4 == 3 && i % 5 != 0);
        }
        (x, y)
    }

    /// Reference: scikit-learn 1.9.1 `LogisticRegression(C=C,
    /// class_weight="balanced", tol=1e-12, max_iter=100000)` (solver lbfgs)
    /// fitted to `case()`, rebuilt in Python as
    /// `x0 = [i%3==0]`, `x1 = (i%4)/2`, `x2 = [i%5==1]/(1+i%3)`,
    /// `y = (i*7+3)%10<3 or (i%3==0 and i%2==0) or (i%4==3 and i%5!=0)`
    /// for `i` in `range(40)` (22 in need); `coef_` and `intercept_` to 9
    /// decimals.
    #[test]
    fn coefficients_match_scikit_learn() {
        let (x, y) = case();
        let rows: Vec<usize> = (0..y.len()).collect();
        let design = Design::from_rows(&x, &rows);
        let w = balanced_weights(&y);
        let free = [(f64::NEG_INFINITY, f64::INFINITY); 3];
        for (c, want, intercept) in REFERENCE {
            let fit = Problem { x: &design, y: &y, weights: &w, c, bounds: &free }.fit(None);
            assert!(fit.converged, "{fit:?}");
            for (got, want) in fit.coefficients.iter().zip(want) {
                assert!((got - want).abs() < 1e-5, "C = {c}: {:?} against {want:?}", fit.coefficients);
            }
            assert!((fit.intercept - intercept).abs() < 1e-5, "C = {c}: {}", fit.intercept);
        }
    }

    const REFERENCE: [(f64, [f64; 3], f64); 3] = [
        (0.1, [0.269082663, 0.193573481, 0.135242862], -0.248710051),
        (1.0, [1.010552809, 0.664766324, 0.786351156], -0.911945594),
        (100.0, [1.571351411, 1.016234211, 2.602641684], -1.50626992),
    ];

    /// The gradient of `½‖β‖² + C Σ w loss`, by the formula, row by row.
    fn gradient(x: &Array2<f64>, y: &[bool], w: &[f64], c: f64, fit: &LogisticFit) -> Vec<f64> {
        let p = x.ncols();
        let mut g: Vec<f64> = fit.coefficients.iter().copied().chain([0.0]).collect();
        for i in 0..y.len() {
            let z = fit.intercept + (0..p).map(|j| x[[i, j]] * fit.coefficients[j]).sum::<f64>();
            let r = c * w[i] * (1.0 / (1.0 + (-z).exp()) - f64::from(u8::from(y[i])));
            for j in 0..p {
                g[j] += r * x[[i, j]];
            }
            g[p] += r;
        }
        g
    }

    #[test]
    fn bounds_hold_and_the_optimum_is_a_kkt_point() {
        let (x, y) = case();
        let rows: Vec<usize> = (0..y.len()).collect();
        let design = Design::from_rows(&x, &rows);
        let w = balanced_weights(&y);
        let free = [(f64::NEG_INFINITY, f64::INFINITY); 3];
        let unbounded = Problem { x: &design, y: &y, weights: &w, c: 10.0, bounds: &free }.fit(None);
        // push every coefficient against the sign it does not have
        let bounds: Vec<(f64, f64)> = unbounded
            .coefficients
            .iter()
            .map(|&b| if b > 0.0 { (f64::NEG_INFINITY, 0.0) } else { (0.0, f64::INFINITY) })
            .collect();
        let problem = Problem { x: &design, y: &y, weights: &w, c: 10.0, bounds: &bounds };
        let fit = problem.fit(None);
        assert!(fit.converged);
        let g = gradient(&x, &y, &w, 10.0, &fit);
        // KKT: a coefficient strictly inside its bounds has zero gradient;
        // one at a bound has a gradient pushing it out of the box
        for j in 0..3 {
            let (lo, hi) = bounds[j];
            assert!(fit.coefficients[j] >= lo && fit.coefficients[j] <= hi, "{fit:?}");
            if fit.coefficients[j] == lo {
                assert!(g[j] >= -1e-7, "{j}: {g:?}");
            } else if fit.coefficients[j] == hi {
                assert!(g[j] <= 1e-7, "{j}: {g:?}");
            } else {
                assert!(g[j].abs() < 1e-7, "{j}: {g:?}");
            }
        }
        assert!(g[3].abs() < 1e-7, "the intercept is free: {g:?}");
        assert!(fit.coefficients.contains(&0.0), "some bound binds: {fit:?}");
        // a warm start from another optimum lands on the same one
        let again = problem.fit(Some(&unbounded));
        for (a, b) in again.coefficients.iter().zip(&fit.coefficients) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!((again.intercept - fit.intercept).abs() < 1e-6, "{again:?} {fit:?}");
    }

    /// Random problems shaped like fit's inner folds (up to 200 rows, 40
    /// items, correlated copies of an item, sign bounds, items fixed at 0,
    /// penalties up to C = 100): every fit ends at a KKT point. (Case 2977
    /// stopped far from its optimum when bound moves were forced at every
    /// step length, found by a review's random test.)
    #[test]
    fn random_bounded_problems_reach_their_optimum() {
        let mut state = 12345u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..3000 {
            let n = 5 + (next() * 200.0) as usize;
            let p = 1 + (next() * 40.0) as usize;
            let mut x = Array2::zeros((n, p));
            let density: Vec<f64> = (0..p).map(|_| next() * 0.6).collect();
            for i in 0..n {
                let members = 1.0 + (next() * 6.0).floor();
                for j in 0..p {
                    if next() < density[j] {
                        x[[i, j]] =
                            (1.0 + (next() * 8.0).floor()) / if case % 2 == 0 { members } else { 1.0 };
                    }
                }
                if p > 2 && next() < 0.5 {
                    x[[i, p - 1]] = x[[i, 0]];
                    x[[i, p - 2]] = 2.0 * x[[i, 0]];
                }
            }
            let y: Vec<bool> = (0..n)
                .map(|i| {
                    let s: f64 = (0..p).map(|j| x[[i, j]] * ((j % 3) as f64 - 0.7)).sum();
                    next() < 1.0 / (1.0 + (-3.0 * s + 0.5).exp())
                })
                .collect();
            let w = balanced_weights(&y);
            let bounds: Vec<(f64, f64)> = (0..p)
                .map(|_| match next() {
                    r if r < 0.35 => (0.0, f64::INFINITY),
                    r if r < 0.7 => (f64::NEG_INFINITY, 0.0),
                    r if r < 0.8 => (0.0, 0.0),
                    _ => (f64::NEG_INFINITY, f64::INFINITY),
                })
                .collect();
            let c = [0.1, 1.0, 10.0, 100.0][(next() * 4.0) as usize];
            let rows: Vec<usize> = (0..n).collect();
            let design = Design::from_rows(&x, &rows);
            let fit = Problem { x: &design, y: &y, weights: &w, c, bounds: &bounds }.fit(None);
            let g = gradient(&x, &y, &w, c, &fit);
            let scale = c * w.iter().sum::<f64>();
            for j in 0..=p {
                let (lo, hi) = if j < p { bounds[j] } else { (f64::NEG_INFINITY, f64::INFINITY) };
                let t = if j < p { fit.coefficients[j] } else { fit.intercept };
                assert!(t >= lo && t <= hi);
                let violation =
                    if (t <= lo && g[j] > 0.0) || (t >= hi && g[j] < 0.0) { 0.0 } else { g[j].abs() };
                assert!(
                    violation <= 1e-5 * scale.max(1.0),
                    "case {case}: item {j}: gradient {} ({fit:?})",
                    g[j]
                );
            }
        }
    }

    #[test]
    fn weights_are_balanced_like_scikit_learn() {
        // 1 positive of 4: n/(2·1) = 2, n/(2·3) = 2/3
        let w = balanced_weights(&[true, false, false, false]);
        assert_eq!(w[0], 2.0);
        assert!((w[1] - 2.0 / 3.0).abs() < 1e-15);
    }
}
