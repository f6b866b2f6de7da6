//! Compiled trees turned into closures, for scoring many households.
//!
//! Walking a [`BoolExpr`] matches on its kind at every node, for every
//! household. [`BoolExpr::to_fn`] does that match once, when a scorer is
//! made, and builds a closure per node that does only its own work (a
//! comparison of a household column with a constant is one closure with
//! the column, the operator and the constant built in). The answers are
//! those of [`BoolExpr::eval`]: a test compares the two on every item of
//! the bundled model over simulated households.

use std::sync::Arc;

use super::compiled::{ArithOp, BoolExpr, CmpOp, Inputs, NumExpr, Src};

/// A compiled yes/no expression: `(inputs, member) → bool`.
pub type BoolFn = Box<dyn Fn(&Inputs, usize) -> bool + Send + Sync>;
/// A compiled numeric expression: `(inputs, member) → f64`.
pub type NumFn = Box<dyn Fn(&Inputs, usize) -> f64 + Send + Sync>;
/// A compiled member count: `inputs → members satisfying a condition`.
pub type CountFn = Box<dyn Fn(&Inputs) -> u32 + Send + Sync>;

/// A test of one member column against constants: the commonest
/// member-level condition (`age >= 60`, `health == "chronic"`,
/// `needs_care`). Counted or searched over the members inside one closure,
/// it costs no call per member.
#[derive(Debug, Clone, Copy)]
enum MemberTest {
    Cmp(CmpOp, f64),
    NonZero,
    OneOf(u64),
}

impl MemberTest {
    /// The column slot and the test, when `e` is such a test.
    fn of(e: &BoolExpr) -> Option<(usize, MemberTest)> {
        match *e {
            BoolExpr::ColCmp(op, Src::Member(slot), c) => Some((slot as usize, MemberTest::Cmp(op, c))),
            BoolExpr::Col(Src::Member(slot)) => Some((slot as usize, MemberTest::NonZero)),
            BoolExpr::OneOf(Src::Member(slot), mask) => Some((slot as usize, MemberTest::OneOf(mask))),
            _ => None,
        }
    }

    #[inline]
    fn holds(self, v: f64) -> bool {
        match self {
            MemberTest::Cmp(op, c) => op.holds(v, c),
            MemberTest::NonZero => v != 0.0,
            MemberTest::OneOf(mask) => {
                let code = v as u32;
                code < 64 && mask & (1u64 << code) != 0
            }
        }
    }
}

/// The values of member column `slot`, member after member.
#[inline]
fn column<'a>(x: &'a Inputs, slot: usize) -> impl Iterator<Item = f64> + 'a {
    (0..x.count).map(move |m| x.members[m * x.stride + slot])
}

/// A closure reading a column and applying `$f` to the value.
macro_rules! read {
    ($src:expr, |$v:ident| $body:expr) => {
        match $src {
            Src::Household(slot) => {
                let slot = slot as usize;
                Box::new(move |x: &Inputs, _: usize| {
                    let $v = x.household[slot];
                    $body
                })
            }
            Src::Member(slot) => {
                let slot = slot as usize;
                Box::new(move |x: &Inputs, m: usize| {
                    let $v = x.members[m * x.stride + slot];
                    $body
                })
            }
        }
    };
}

/// A closure comparing a column with a constant, one per operator.
fn col_cmp(op: CmpOp, src: Src, c: f64) -> BoolFn {
    match op {
        CmpOp::Eq => read!(src, |v| v == c),
        CmpOp::Ne => read!(src, |v| v != c),
        CmpOp::Lt => read!(src, |v| v < c),
        CmpOp::Le => read!(src, |v| v <= c),
        CmpOp::Gt => read!(src, |v| v > c),
        CmpOp::Ge => read!(src, |v| v >= c),
    }
}

impl BoolExpr {
    /// This expression as a closure.
    pub fn to_fn(&self) -> BoolFn {
        match self {
            &BoolExpr::Const(b) => Box::new(move |_, _| b),
            &BoolExpr::Col(src) => read!(src, |v| v != 0.0),
            BoolExpr::Not(a) => {
                let a = a.to_fn();
                Box::new(move |x, m| !a(x, m))
            }
            BoolExpr::And(a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                Box::new(move |x, m| a(x, m) && b(x, m))
            }
            BoolExpr::Or(a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                Box::new(move |x, m| a(x, m) || b(x, m))
            }
            BoolExpr::Same(a, b, negated) => {
                let (a, b, negated) = (a.to_fn(), b.to_fn(), *negated);
                Box::new(move |x, m| (a(x, m) == b(x, m)) != negated)
            }
            &BoolExpr::ColCmp(op, src, c) => col_cmp(op, src, c),
            BoolExpr::Cmp(op, a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                match op {
                    CmpOp::Eq => Box::new(move |x, m| a(x, m) == b(x, m)),
                    CmpOp::Ne => Box::new(move |x, m| a(x, m) != b(x, m)),
                    CmpOp::Lt => Box::new(move |x, m| a(x, m) < b(x, m)),
                    CmpOp::Le => Box::new(move |x, m| a(x, m) <= b(x, m)),
                    CmpOp::Gt => Box::new(move |x, m| a(x, m) > b(x, m)),
                    CmpOp::Ge => Box::new(move |x, m| a(x, m) >= b(x, m)),
                }
            }
            &BoolExpr::OneOf(src, mask) => read!(src, |v| {
                let code = v as u32;
                code < 64 && mask & (1u64 << code) != 0
            }),
            BoolExpr::NumIn(a, list) => {
                let (a, list) = (a.to_fn(), list.clone());
                Box::new(move |x, m| list.contains(&a(x, m)))
            }
            BoolExpr::Any(c) => match MemberTest::of(c) {
                Some((slot, t)) => Box::new(move |x, _| column(x, slot).any(|v| t.holds(v))),
                None => {
                    let c = c.to_fn();
                    Box::new(move |x, _| (0..x.count).any(|m| c(x, m)))
                }
            },
            BoolExpr::All(c) => match MemberTest::of(c) {
                Some((slot, t)) => Box::new(move |x, _| column(x, slot).all(|v| t.holds(v))),
                None => {
                    let c = c.to_fn();
                    Box::new(move |x, _| (0..x.count).all(|m| c(x, m)))
                }
            },
            // the tree itself, walked: a closure per use would copy it
            BoolExpr::Shared(a) => {
                let a = Arc::clone(a);
                Box::new(move |x, m| a.eval(x, m))
            }
        }
    }
}

impl BoolExpr {
    /// How many members satisfy this member-level expression, as one
    /// closure: a single column test runs over the members inside it.
    pub fn to_count_fn(&self) -> CountFn {
        match MemberTest::of(self) {
            Some((slot, t)) => Box::new(move |x| column(x, slot).filter(|&v| t.holds(v)).count() as u32),
            None => {
                let c = self.to_fn();
                Box::new(move |x| (0..x.count).filter(|&m| c(x, m)).count() as u32)
            }
        }
    }
}

impl NumExpr {
    /// This expression as a closure.
    pub fn to_fn(&self) -> NumFn {
        match self {
            &NumExpr::Const(v) => Box::new(move |_, _| v),
            &NumExpr::Col(src) => read!(src, |v| v),
            NumExpr::Members => Box::new(|x, _| x.count as f64),
            NumExpr::Neg(a) => {
                let a = a.to_fn();
                Box::new(move |x, m| -a(x, m))
            }
            NumExpr::Arith(op, a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                match op {
                    ArithOp::Add => Box::new(move |x, m| a(x, m) + b(x, m)),
                    ArithOp::Sub => Box::new(move |x, m| a(x, m) - b(x, m)),
                    ArithOp::Mul => Box::new(move |x, m| a(x, m) * b(x, m)),
                    ArithOp::Div => Box::new(move |x, m| a(x, m) / b(x, m)),
                }
            }
            NumExpr::Min(a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                Box::new(move |x, m| a(x, m).min(b(x, m)))
            }
            NumExpr::Max(a, b) => {
                let (a, b) = (a.to_fn(), b.to_fn());
                Box::new(move |x, m| a(x, m).max(b(x, m)))
            }
            NumExpr::Abs(a) => {
                let a = a.to_fn();
                Box::new(move |x, m| a(x, m).abs())
            }
            NumExpr::If(c, a, b) => {
                let (c, a, b) = (c.to_fn(), a.to_fn(), b.to_fn());
                Box::new(move |x, m| if c(x, m) { a(x, m) } else { b(x, m) })
            }
            NumExpr::Count(c) => {
                let count = c.to_count_fn();
                Box::new(move |x, _| f64::from(count(x)))
            }
            NumExpr::Sum(a) => match **a {
                NumExpr::Col(Src::Member(slot)) => {
                    let slot = slot as usize;
                    Box::new(move |x, _| column(x, slot).sum())
                }
                _ => {
                    let a = a.to_fn();
                    Box::new(move |x, _| (0..x.count).map(|m| a(x, m)).sum())
                }
            },
            NumExpr::MemberMin(a) => {
                let a = a.to_fn();
                Box::new(move |x, _| (0..x.count).map(|m| a(x, m)).fold(f64::INFINITY, f64::min))
            }
            NumExpr::MemberMax(a) => {
                let a = a.to_fn();
                Box::new(move |x, _| (0..x.count).map(|m| a(x, m)).fold(f64::NEG_INFINITY, f64::max))
            }
            NumExpr::Shared(a) => {
                let a = Arc::clone(a);
                Box::new(move |x, m| a.eval(x, m))
            }
        }
    }
}
