//! Per-object filters: a Kalman filter for constant velocity and extended Kalman filters for
//! CTRV and the kinematic bicycle, over one 7-dimensional state layout.
//!
//! State, by model (indices 0..7):
//! - constant velocity: `[x, y, z, yaw, vx, vy, vz]`;
//! - CTRV: `[x, y, z, yaw, v, yaw_rate, vz]`;
//! - bicycle: `[x, y, z, yaw, v, steering, vz]` (center-referenced, slip angle
//!   `atan(tan(steering) / 2)`, wheelbase from the box length).
//!
//! The measurement is always the box pose `[x, y, z, yaw]`. Heading flips by pi (a detector
//! that confuses front and back) are undone before the update, as in AB3DMOT.

use crate::config::{ClassParams, MotionModelKind};
use fusionrt_core::geometry::wrap_angle;
use nalgebra::{Matrix3, Matrix4, SMatrix, SVector, Vector3, Vector4};
use std::f64::consts::PI;

/// Filter state vector.
pub type State = SVector<f64, 7>;
/// Filter covariance.
pub type Cov = SMatrix<f64, 7, 7>;

/// Wheelbase of a bicycle model as a share of the box length.
const WHEELBASE_PER_LENGTH: f64 = 0.6;

/// One object's filter.
#[derive(Clone, Debug)]
pub struct ObjectFilter {
    /// Motion model.
    pub model: MotionModelKind,
    /// State (layout by model, see the module docs).
    pub x: State,
    /// Covariance.
    pub p: Cov,
    /// Wheelbase for the bicycle model, m.
    pub wheelbase_m: f64,
}

/// Noise of the pose measurement for a class.
fn measurement_noise(params: &ClassParams) -> Matrix4<f64> {
    let sp = params.sigma_position_m * params.sigma_position_m;
    Matrix4::from_diagonal(&Vector4::new(
        sp,
        sp,
        params.sigma_z_m * params.sigma_z_m,
        params.sigma_yaw_rad * params.sigma_yaw_rad,
    ))
}

impl ObjectFilter {
    /// A filter at a measured pose, at rest, with the class's initial uncertainty.
    pub fn new(params: &ClassParams, pose: Vector4<f64>, length_m: f64) -> Self {
        let mut x = State::zeros();
        x.fixed_rows_mut::<4>(0).copy_from(&pose);
        x[3] = wrap_angle(x[3]);
        let sp = params.sigma_position_m * params.sigma_position_m;
        let sv = params.sigma_init_velocity_mps * params.sigma_init_velocity_mps;
        let mut d = State::from_element(sv);
        d[0] = sp;
        d[1] = sp;
        d[2] = params.sigma_z_m * params.sigma_z_m;
        d[3] = params.sigma_yaw_rad * params.sigma_yaw_rad;
        match params.motion_model {
            MotionModelKind::ConstantVelocity => {
                d[6] = 1.0;
            }
            MotionModelKind::Ctrv => {
                d[5] = 0.5;
                d[6] = 1.0;
            }
            MotionModelKind::Bicycle => {
                d[5] = 0.1;
                d[6] = 1.0;
            }
        }
        Self {
            model: params.motion_model,
            x,
            p: Cov::from_diagonal(&d),
            wheelbase_m: (WHEELBASE_PER_LENGTH * length_m).max(0.5),
        }
    }

    /// The motion model applied to a state over `dt` seconds.
    fn transition(&self, s: &State, dt: f64) -> State {
        let mut n = *s;
        match self.model {
            MotionModelKind::ConstantVelocity => {
                n[0] += s[4] * dt;
                n[1] += s[5] * dt;
                n[2] += s[6] * dt;
            }
            MotionModelKind::Ctrv => {
                let (yaw, v, w) = (s[3], s[4], s[5]);
                if w.abs() > 1e-4 {
                    n[0] += v / w * ((yaw + w * dt).sin() - yaw.sin());
                    n[1] += v / w * (yaw.cos() - (yaw + w * dt).cos());
                } else {
                    n[0] += v * yaw.cos() * dt;
                    n[1] += v * yaw.sin() * dt;
                }
                n[2] += s[6] * dt;
                n[3] = yaw + w * dt;
            }
            MotionModelKind::Bicycle => {
                let (yaw, v, steer) = (s[3], s[4], s[5]);
                let beta = (0.5 * steer.tan()).atan();
                let yaw_rate = v * beta.sin() / (0.5 * self.wheelbase_m);
                // Midpoint heading for a second-order step.
                let mid = yaw + 0.5 * yaw_rate * dt;
                n[0] += v * (mid + beta).cos() * dt;
                n[1] += v * (mid + beta).sin() * dt;
                n[2] += s[6] * dt;
                n[3] = yaw + yaw_rate * dt;
            }
        }
        n
    }

    /// Jacobian of [`Self::transition`] with respect to the state.
    fn jacobian(&self, dt: f64) -> Cov {
        let mut f = Cov::identity();
        match self.model {
            MotionModelKind::ConstantVelocity => {
                f[(0, 4)] = dt;
                f[(1, 5)] = dt;
                f[(2, 6)] = dt;
            }
            MotionModelKind::Ctrv | MotionModelKind::Bicycle => {
                // Central differences: exact enough and shared by both nonlinear models.
                for j in 0..7 {
                    let eps = 1e-5 * self.x[j].abs().max(1.0);
                    let mut a = self.x;
                    let mut b = self.x;
                    a[j] += eps;
                    b[j] -= eps;
                    let col = (self.transition(&a, dt) - self.transition(&b, dt)) / (2.0 * eps);
                    f.set_column(j, &col);
                }
            }
        }
        f
    }

    /// Process noise over `dt` seconds.
    fn process_noise(&self, params: &ClassParams, dt: f64) -> Cov {
        let qa = params.sigma_accel_mps2 * params.sigma_accel_mps2;
        let qz = params.sigma_accel_z_mps2 * params.sigma_accel_z_mps2;
        let qw = params.sigma_yaw_accel_radps2 * params.sigma_yaw_accel_radps2;
        let (dt2, dt3, dt4) = (dt * dt, dt * dt * dt, dt * dt * dt * dt);
        let mut q = Cov::zeros();
        // Vertical: piecewise white acceleration on (z, vz).
        q[(2, 2)] = 0.25 * dt4 * qz;
        q[(2, 6)] = 0.5 * dt3 * qz;
        q[(6, 2)] = 0.5 * dt3 * qz;
        q[(6, 6)] = dt2 * qz;
        match self.model {
            MotionModelKind::ConstantVelocity => {
                for (p, v) in [(0, 4), (1, 5)] {
                    q[(p, p)] = 0.25 * dt4 * qa;
                    q[(p, v)] = 0.5 * dt3 * qa;
                    q[(v, p)] = 0.5 * dt3 * qa;
                    q[(v, v)] = dt2 * qa;
                }
                q[(3, 3)] = dt2 * qw;
            }
            MotionModelKind::Ctrv | MotionModelKind::Bicycle => {
                // Noise enters through the longitudinal acceleration and the yaw acceleration
                // (CTRV) or steering rate (bicycle): Q = G diag(qa, qw) G^T.
                let (s, c) = self.x[3].sin_cos();
                let mut g = SMatrix::<f64, 7, 2>::zeros();
                g[(0, 0)] = 0.5 * dt2 * c;
                g[(1, 0)] = 0.5 * dt2 * s;
                g[(4, 0)] = dt;
                if self.model == MotionModelKind::Ctrv {
                    g[(3, 1)] = 0.5 * dt2;
                    g[(5, 1)] = dt;
                } else {
                    g[(5, 1)] = dt;
                }
                let qd = SMatrix::<f64, 2, 2>::from_diagonal(&nalgebra::Vector2::new(qa, qw));
                let gq = g * qd * g.transpose();
                q += gq;
                // A little direct position noise keeps the filter honest about lateral motion
                // that the model cannot express (e.g. a turning ego frame).
                let lat = 0.25 * dt4 * qa * 0.25;
                q[(0, 0)] += lat;
                q[(1, 1)] += lat;
            }
        }
        q
    }

    /// Predicts the state `dt` seconds ahead (no-op for `dt <= 0`).
    pub fn predict(&mut self, params: &ClassParams, dt: f64) {
        if dt <= 0.0 {
            return;
        }
        let q = self.process_noise(params, dt);
        if self.model == MotionModelKind::ConstantVelocity {
            // F = I + dt * (position <- velocity): F P F^T as row and column operations.
            for (pos, vel) in [(0, 4), (1, 5), (2, 6)] {
                let row = self.p.row(vel) * dt;
                let mut target = self.p.row_mut(pos);
                target += row;
            }
            for (pos, vel) in [(0, 4), (1, 5), (2, 6)] {
                let col = self.p.column(vel) * dt;
                let mut target = self.p.column_mut(pos);
                target += col;
            }
            self.p += q;
        } else {
            let f = self.jacobian(dt);
            self.p = f * self.p * f.transpose() + q;
        }
        self.x = self.transition(&self.x, dt);
        self.x[3] = wrap_angle(self.x[3]);
    }

    /// The measured pose with its heading flipped by pi where that brings it within pi/2 of the
    /// predicted heading.
    fn aligned(&self, pose: &Vector4<f64>) -> Vector4<f64> {
        let mut z = *pose;
        let mut d = wrap_angle(z[3] - self.x[3]);
        if d.abs() > 0.5 * PI {
            z[3] = wrap_angle(z[3] + PI);
            d = wrap_angle(z[3] - self.x[3]);
        }
        // Keep the innovation continuous: measured yaw expressed next to the prediction.
        z[3] = self.x[3] + d;
        z
    }

    /// Squared Mahalanobis distance of a measured position from the predicted one.
    pub fn mahalanobis_sq(&self, params: &ClassParams, position: &Vector3<f64>) -> f64 {
        let y = position - self.x.fixed_rows::<3>(0);
        let r = params.sigma_position_m * params.sigma_position_m;
        let rz = params.sigma_z_m * params.sigma_z_m;
        let s: Matrix3<f64> = self.p.fixed_view::<3, 3>(0, 0).into_owned()
            + Matrix3::from_diagonal(&Vector3::new(r, r, rz));
        match s.try_inverse() {
            Some(inv) => (y.transpose() * inv * y)[(0, 0)],
            None => f64::INFINITY,
        }
    }

    /// Updates with a measured pose `[x, y, z, yaw]`.
    pub fn update(&mut self, params: &ClassParams, pose: &Vector4<f64>) {
        let z = self.aligned(pose);
        // H selects the first four states: H P H^T and P H^T are blocks of P.
        let y = z - self.x.fixed_rows::<4>(0);
        let s = self.p.fixed_view::<4, 4>(0, 0).into_owned() + measurement_noise(params);
        let Some(s_inv) = s.try_inverse() else {
            return;
        };
        let pht: SMatrix<f64, 7, 4> = self.p.fixed_view::<7, 4>(0, 0).into_owned();
        let k = pht * s_inv;
        self.x += k * y;
        self.x[3] = wrap_angle(self.x[3]);
        // P = (I - K H) P, kept symmetric.
        let hp: SMatrix<f64, 4, 7> = self.p.fixed_view::<4, 7>(0, 0).into_owned();
        self.p -= k * hp;
        self.p = 0.5 * (self.p + self.p.transpose());
    }

    /// Position, m.
    pub fn position(&self) -> Vector3<f64> {
        self.x.fixed_rows::<3>(0).into_owned()
    }

    /// Heading, rad.
    pub fn yaw(&self) -> f64 {
        self.x[3]
    }

    /// Velocity in the tracking frame, m/s.
    pub fn velocity(&self) -> Vector3<f64> {
        match self.model {
            MotionModelKind::ConstantVelocity => Vector3::new(self.x[4], self.x[5], self.x[6]),
            MotionModelKind::Ctrv | MotionModelKind::Bicycle => {
                let heading = if self.model == MotionModelKind::Bicycle {
                    self.x[3] + (0.5 * self.x[5].tan()).atan()
                } else {
                    self.x[3]
                };
                Vector3::new(
                    self.x[4] * heading.cos(),
                    self.x[4] * heading.sin(),
                    self.x[6],
                )
            }
        }
    }

    /// Yaw rate, rad/s (0 for constant velocity).
    pub fn yaw_rate(&self) -> f64 {
        match self.model {
            MotionModelKind::ConstantVelocity => 0.0,
            MotionModelKind::Ctrv => self.x[5],
            MotionModelKind::Bicycle => {
                let beta = (0.5 * self.x[5].tan()).atan();
                self.x[4] * beta.sin() / (0.5 * self.wheelbase_m)
            }
        }
    }

    /// Variances of (vx, vy, vz, yaw rate), linearized for the nonlinear models.
    pub fn twist_variances(&self) -> [f64; 4] {
        match self.model {
            MotionModelKind::ConstantVelocity => [
                self.p[(4, 4)],
                self.p[(5, 5)],
                self.p[(6, 6)],
                self.p[(3, 3)],
            ],
            MotionModelKind::Ctrv | MotionModelKind::Bicycle => {
                let (s, c) = self.x[3].sin_cos();
                let v = self.x[4];
                let pv = self.p[(4, 4)];
                let py = self.p[(3, 3)];
                [
                    c * c * pv + v * v * s * s * py,
                    s * s * pv + v * v * c * c * py,
                    self.p[(6, 6)],
                    self.p[(5, 5)],
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_velocity_covariance_prediction_equals_f_p_ft() {
        let p = params(MotionModelKind::ConstantVelocity);
        let mut f = ObjectFilter::new(&p, Vector4::new(1.0, 2.0, 0.5, 0.3), 4.0);
        // A full, symmetric covariance: every block of F P F^T matters.
        let a = Cov::from_fn(|i, j| ((i * 7 + j) as f64 * 0.37).sin());
        f.p = a * a.transpose() + Cov::identity();
        let expected = {
            let jac = f.jacobian(0.1);
            jac * f.p * jac.transpose() + f.process_noise(&p, 0.1)
        };
        f.predict(&p, 0.1);
        assert!((f.p - expected).abs().max() < 1e-12, "{}", f.p - expected);
    }

    fn params(model: MotionModelKind) -> ClassParams {
        ClassParams {
            motion_model: model,
            ..ClassParams::default()
        }
    }

    /// Drives a filter with exact measurements of a target and returns the final filter.
    fn follow(model: MotionModelKind, truth: impl Fn(f64) -> Vector4<f64>) -> ObjectFilter {
        let p = params(model);
        let mut f = ObjectFilter::new(&p, truth(0.0), 4.0);
        for k in 1..60 {
            let t = k as f64 * 0.1;
            f.predict(&p, 0.1);
            f.update(&p, &truth(t));
        }
        f
    }

    #[test]
    fn constant_velocity_learns_the_velocity() {
        let f = follow(MotionModelKind::ConstantVelocity, |t| {
            Vector4::new(2.0 * t, -t, 0.5, 0.3)
        });
        let v = f.velocity();
        assert!(
            (v.x - 2.0).abs() < 0.05 && (v.y + 1.0).abs() < 0.05,
            "{v:?}"
        );
    }

    #[test]
    fn ctrv_and_bicycle_learn_a_turn() {
        // A circle of radius 20 m at 10 m/s: yaw rate 0.5 rad/s.
        let circle = |t: f64| {
            let a = 0.5 * t;
            Vector4::new(20.0 * a.sin(), 20.0 * (1.0 - a.cos()), 0.0, a)
        };
        for model in [MotionModelKind::Ctrv, MotionModelKind::Bicycle] {
            let mut f = follow(model, circle);
            assert!(
                (f.yaw_rate() - 0.5).abs() < 0.05,
                "{model:?}: {}",
                f.yaw_rate()
            );
            assert!((f.velocity().norm() - 10.0).abs() < 0.3, "{model:?}");
            // Prediction one second ahead stays on the circle.
            let p = params(model);
            f.predict(&p, 1.0);
            let truth = circle(6.9);
            assert!((f.position().xy() - truth.xy()).norm() < 1.0, "{model:?}");
        }
    }

    #[test]
    fn flipped_heading_is_not_a_jump() {
        let p = params(MotionModelKind::ConstantVelocity);
        let mut f = ObjectFilter::new(&p, Vector4::new(0.0, 0.0, 0.0, 0.1), 4.0);
        f.predict(&p, 0.1);
        f.update(&p, &Vector4::new(0.0, 0.0, 0.0, 0.1 + PI));
        assert!((f.yaw() - 0.1).abs() < 1e-6);
    }

    #[test]
    fn mahalanobis_grows_with_distance() {
        let p = params(MotionModelKind::ConstantVelocity);
        let f = ObjectFilter::new(&p, Vector4::new(0.0, 0.0, 0.0, 0.0), 4.0);
        let near = f.mahalanobis_sq(&p, &Vector3::new(0.1, 0.0, 0.0));
        let far = f.mahalanobis_sq(&p, &Vector3::new(3.0, 0.0, 0.0));
        assert!(near < far && near >= 0.0);
    }
}
