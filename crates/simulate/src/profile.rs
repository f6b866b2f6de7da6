//! Village profiles: what kind of place a sample village is, in numbers.
//!
//! The rates are set to be believable for the monitored (already at-risk)
//! population of rural central China, not for the population at large:
//! older than average, poorer, more often ill or disabled.

/// The kinds of village the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 山区村: old people, migrant outflow, left-behind children, poor houses.
    Hill,
    /// 平原农业村: farming families, floods now and then.
    Plains,
    /// 城郊社区: at a town's edge; more wage work, cars, small businesses.
    TownEdge,
    /// 易地扶贫搬迁安置点: relocated families, young, new houses, unstable work.
    Relocation,
}

/// Household compositions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Composition {
    /// One person aged 60 or over.
    ElderAlone,
    /// Two people aged 60 or over.
    ElderCouple,
    /// A couple with children.
    Family,
    /// Grandparents, parents and children.
    ThreeGenerations,
    /// Grandparents and children; the parents work away.
    LeftBehind,
    /// One parent with children.
    SingleParent,
    /// A middle-aged couple with a disabled adult child.
    DisabledAdultChild,
    /// One working-age adult.
    SingleAdult,
}

/// The numbers that make a village what it is.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Kind of village.
    pub kind: Kind,
    /// Village name written in the roster.
    pub name: String,
    /// Code used in household ids and folder names.
    pub code: String,
    /// Households when no count is asked for.
    pub default_households: usize,
    /// A town's community, whose households are judged against the urban
    /// dibao standard (the roster column `urban`).
    pub urban: bool,
    /// Weights of the compositions, in [`COMPOSITIONS`] order. Set so
    /// that the four villages together have about 2.6 members a household
    /// and a quarter to a third of one-person households (2020 census:
    /// 2.62 and 25.4 %; monitored households are smaller and older than
    /// the average).
    pub compositions: [f64; 8],
    /// Multiplier of illness and disability rates.
    pub illness: f64,
    /// Among working-age people able to work: stable, flexible (incl.
    /// farming), unstable migrant work, unemployed.
    pub work: [f64; 4],
    /// Household farming and sideline income, yuan a year (median).
    pub farm_income: f64,
    /// Multiplier of wages.
    pub wage: f64,
    /// House safety grades A, B, C, D.
    pub houses: [f64; 4],
    /// Share of households with unsafe drinking water.
    pub unsafe_water: f64,
    /// Yearly chance of disaster damage.
    pub disaster: f64,
    /// Typical support from kin outside the household, yuan a year (median,
    /// when there is some): what the model cannot see.
    pub family_support: f64,
    /// Multiplier of assets (deposits, cars, property).
    pub assets: f64,
    /// What struck the whole village this year, shared by its households
    /// (drawn per village from the seed).
    pub shock: Shock,
}

/// A shock shared by a village's households.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shock {
    /// None this year.
    #[default]
    None,
    /// A flood: a quarter of the households lose crops, stock or rooms.
    Flood,
    /// The factory most wage earners worked at closed: three in ten of
    /// them lose their job.
    FactoryClosing,
}

impl Shock {
    /// A village's shock, from a uniform draw: a flood in one village in
    /// five (more in the hills and plains, where rivers flood), a factory
    /// closing in one in eight.
    pub fn draw(kind: Kind, u: f64) -> Shock {
        let flood = match kind {
            Kind::Hill | Kind::Plains => 0.25,
            _ => 0.10,
        };
        if u < flood {
            Shock::Flood
        } else if u < flood + 0.125 {
            Shock::FactoryClosing
        } else {
            Shock::None
        }
    }

    /// Its name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Shock::None => "none",
            Shock::Flood => "flood",
            Shock::FactoryClosing => "factory closing",
        }
    }
}

/// Compositions in the order of [`Profile::compositions`].
pub const COMPOSITIONS: [Composition; 8] = [
    Composition::ElderAlone,
    Composition::ElderCouple,
    Composition::Family,
    Composition::ThreeGenerations,
    Composition::LeftBehind,
    Composition::SingleParent,
    Composition::DisabledAdultChild,
    Composition::SingleAdult,
];

/// The four sample-village profiles, in the order villages are made.
pub fn profiles() -> [Profile; 4] {
    [
        Profile {
            kind: Kind::Hill,
            urban: false,
            name: "白云山村".into(),
            code: "BYS".into(),
            default_households: 412,
            compositions: [0.22, 0.22, 0.10, 0.10, 0.13, 0.05, 0.05, 0.13],
            illness: 1.25,
            work: [0.08, 0.37, 0.43, 0.12],
            farm_income: 2600.0,
            wage: 0.9,
            houses: [0.50, 0.34, 0.12, 0.04],
            unsafe_water: 0.09,
            disaster: 0.13,
            family_support: 5000.0,
            assets: 0.7,
            shock: Shock::None,
        },
        Profile {
            kind: Kind::Plains,
            urban: false,
            name: "花园村".into(),
            code: "HY".into(),
            default_households: 356,
            compositions: [0.13, 0.17, 0.24, 0.15, 0.07, 0.06, 0.06, 0.12],
            illness: 1.0,
            work: [0.14, 0.48, 0.28, 0.10],
            farm_income: 6500.0,
            wage: 1.0,
            houses: [0.64, 0.29, 0.06, 0.01],
            unsafe_water: 0.03,
            disaster: 0.09,
            family_support: 4000.0,
            assets: 1.0,
            shock: Shock::None,
        },
        Profile {
            kind: Kind::TownEdge,
            urban: true,
            name: "城关社区".into(),
            code: "CG".into(),
            default_households: 268,
            compositions: [0.11, 0.12, 0.29, 0.11, 0.04, 0.10, 0.05, 0.18],
            illness: 0.9,
            work: [0.30, 0.42, 0.12, 0.16],
            farm_income: 1500.0,
            wage: 1.2,
            houses: [0.72, 0.25, 0.03, 0.0],
            unsafe_water: 0.01,
            disaster: 0.02,
            family_support: 3000.0,
            assets: 1.6,
            shock: Shock::None,
        },
        Profile {
            kind: Kind::Relocation,
            urban: false,
            name: "幸福安置点".into(),
            code: "XF".into(),
            default_households: 189,
            compositions: [0.09, 0.09, 0.35, 0.12, 0.08, 0.08, 0.05, 0.14],
            illness: 1.1,
            work: [0.10, 0.30, 0.40, 0.20],
            farm_income: 1200.0,
            wage: 0.95,
            houses: [0.96, 0.04, 0.0, 0.0],
            unsafe_water: 0.01,
            disaster: 0.03,
            family_support: 2500.0,
            assets: 0.6,
            shock: Shock::None,
        },
    ]
}
