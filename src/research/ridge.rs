//! Fitting the ridge baseline ([`Ridge`]): closed form (`(X'X + lambda I) w = X'y`, intercept
//! unpenalized), solved by Cholesky in f64.

pub use crate::model::ridge::Ridge;

impl Ridge {
    /// Fits on rows `x` (each of `n` features) and targets `y`.
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indices
    pub fn fit(x: &[Vec<f32>], y: &[f32], lambda: f64) -> Self {
        let n = x.first().map_or(0, Vec::len);
        let m = y.len().max(1) as f64;
        // Center so the intercept is not penalized.
        let mut mx = vec![0.0; n];
        for r in x {
            for (a, v) in mx.iter_mut().zip(r) {
                *a += f64::from(*v) / m;
            }
        }
        let my = y.iter().map(|v| f64::from(*v)).sum::<f64>() / m;
        let mut a = vec![vec![0.0; n]; n];
        let mut b = vec![0.0; n];
        for (r, t) in x.iter().zip(y) {
            let t = f64::from(*t) - my;
            for i in 0..n {
                let xi = f64::from(r[i]) - mx[i];
                b[i] += xi * t;
                for j in 0..=i {
                    a[i][j] += xi * (f64::from(r[j]) - mx[j]);
                }
            }
        }
        for i in 0..n {
            a[i][i] += lambda;
            for j in 0..i {
                a[j][i] = a[i][j];
            }
        }
        let weights = cholesky_solve(a, b);
        let bias = my - weights.iter().zip(&mx).map(|(w, m)| w * m).sum::<f64>();
        Self { weights, bias, lambda }
    }
}

/// Solves `A x = b` for symmetric positive definite `A` (ridge makes it so).
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
fn cholesky_solve(mut a: Vec<Vec<f64>>, b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for j in 0..n {
        let mut d = a[j][j];
        for k in 0..j {
            d -= a[j][k] * a[j][k];
        }
        let d = d.max(1e-12).sqrt();
        a[j][j] = d;
        for i in j + 1..n {
            let mut s = a[i][j];
            for k in 0..j {
                s -= a[i][k] * a[j][k];
            }
            a[i][j] = s / d;
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i][k] * y[k];
        }
        y[i] = s / a[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= a[k][i] * x[k];
        }
        x[i] = s / a[i][i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_linear_relation() {
        let x: Vec<Vec<f32>> = (0..200).map(|i| vec![(i % 7) as f32, ((i * 3) % 11) as f32]).collect();
        let y: Vec<f32> = x.iter().map(|r| 2.0 * r[0] - 0.5 * r[1] + 3.0).collect();
        let m = Ridge::fit(&x, &y, 1e-9);
        assert!((m.weights[0] - 2.0).abs() < 1e-4 && (m.weights[1] + 0.5).abs() < 1e-4 && (m.bias - 3.0).abs() < 1e-3);
        assert!((m.predict(&[1.0, 1.0]) - 4.5).abs() < 1e-3);
    }
}
