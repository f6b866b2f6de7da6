//! How a household's points become the score that bands apply to: the
//! `[scoring]` table of a model.
//!
//! Xiaochang divides the points by the number of members (`per_capita`).
//! That is one choice among several, and it costs ranking power when need
//! does not fall with household size; the model says which it uses:
//!
//! | `normalise` | divisor |
//! |---|---|
//! | `per_capita` (default) | members |
//! | `total` | 1 (points as summed) |
//! | `sqrt_members` | √members |
//! | `equivalence` | modified OECD scale: 1 for the first member aged 14 or over, 0.5 for each other, 0.3 for each child under 14 |
//!
//! An item with `divide = false` is added whole, after the division (for a
//! test that is already per person, such as income per capita below a
//! line).

/// How points are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// Divided by the number of members (Xiaochang).
    #[default]
    PerCapita,
    /// Not divided.
    Total,
    /// Divided by the square root of the number of members.
    SqrtMembers,
    /// Divided by the modified OECD equivalence scale.
    Equivalence,
}

impl Normalise {
    /// Every normalisation, in the order `fit --normalise auto` tries them.
    pub const ALL: [Normalise; 4] =
        [Normalise::PerCapita, Normalise::Total, Normalise::SqrtMembers, Normalise::Equivalence];

    /// Its name in a model file.
    pub fn name(self) -> &'static str {
        match self {
            Normalise::PerCapita => "per_capita",
            Normalise::Total => "total",
            Normalise::SqrtMembers => "sqrt_members",
            Normalise::Equivalence => "equivalence",
        }
    }

    /// The normalisation a model file names.
    pub fn parse(name: &str) -> Option<Normalise> {
        Normalise::ALL.into_iter().find(|n| n.name() == name)
    }

    /// What a household's divided points are divided by, from its number of
    /// members and its equivalence scale (see [`equivalence_scale`]).
    pub fn divisor(self, members: f64, equivalents: f64) -> f64 {
        match self {
            Normalise::PerCapita => members,
            Normalise::Total => 1.0,
            Normalise::SqrtMembers => members.sqrt(),
            Normalise::Equivalence => equivalents,
        }
    }
}

impl std::fmt::Display for Normalise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `[scoring]` table of a model.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scoring {
    /// How divided points are normalised.
    pub normalise: Normalise,
    /// Index into [`crate::Model::columns`] of the member column holding
    /// ages in whole years (for `equivalence`): `[scoring] age_column`, or
    /// else `[identity] age_column`.
    pub age_column: Option<usize>,
    /// Whether the model states `normalise` (rather than taking the
    /// default): `hhrisk fit` keeps a stated normalisation and chooses one
    /// on villages left out otherwise.
    pub stated: bool,
}

/// Age from which the modified OECD scale counts a member as an adult.
pub const ADULT_AGE: f64 = 14.0;

/// The modified OECD equivalence scale of a household from its members'
/// ages: 1 for the first member aged 14 or over, 0.5 for every other one,
/// 0.3 for every child under 14. A household of children only counts its
/// first child as 1. A missing age (NaN) counts as an adult's; no member,
/// 0.
pub fn equivalence_scale(ages: impl Iterator<Item = f64>) -> f64 {
    let (mut adults, mut children) = (0u32, 0u32);
    for age in ages {
        if age < ADULT_AGE {
            children += 1;
        } else {
            adults += 1;
        }
    }
    match (adults, children) {
        (0, 0) => 0.0,
        (0, c) => 1.0 + 0.3 * f64::from(c - 1),
        (a, c) => 1.0 + 0.5 * f64::from(a - 1) + 0.3 * f64::from(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modified_oecd_scale() {
        // two adults and two children: 1 + 0.5 + 2 × 0.3 = 2.1 (the OECD's
        // own example of the modified scale)
        assert!((equivalence_scale([40.0, 38.0, 10.0, 6.0].into_iter()) - 2.1).abs() < 1e-12);
        // one adult: 1; a 14-year-old is an adult
        assert_eq!(equivalence_scale([14.0].into_iter()), 1.0);
        // an old couple and a grandchild: 1 + 0.5 + 0.3
        assert!((equivalence_scale([70.0, 68.0, 9.0].into_iter()) - 1.8).abs() < 1e-12);
        // children only: the first counts 1
        assert!((equivalence_scale([12.0, 9.0].into_iter()) - 1.3).abs() < 1e-12);
        // a missing age counts as an adult
        assert_eq!(equivalence_scale([f64::NAN, 30.0].into_iter()), 1.5);
        assert_eq!(equivalence_scale(std::iter::empty()), 0.0);
    }

    #[test]
    fn divisors() {
        assert_eq!(Normalise::PerCapita.divisor(4.0, 2.1), 4.0);
        assert_eq!(Normalise::Total.divisor(4.0, 2.1), 1.0);
        assert_eq!(Normalise::SqrtMembers.divisor(4.0, 2.1), 2.0);
        assert_eq!(Normalise::Equivalence.divisor(4.0, 2.1), 2.1);
        for n in Normalise::ALL {
            assert_eq!(Normalise::parse(n.name()), Some(n));
        }
        assert_eq!(Normalise::parse("per-capita"), None);
    }
}
