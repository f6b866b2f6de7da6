//! Why a household got its score: item by item, with the inputs each item
//! read.

use std::fmt::Write as _;

use hhrisk_model::expr::{Inputs, Scope};
use hhrisk_model::{Model, Per};
use hhrisk_roster::privacy::mask_id;
use hhrisk_roster::HouseholdView;

use crate::output::format_number;
use crate::score::{HouseholdScore, Scorer};

/// An item in an explanation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExplainedItem {
    /// Item id.
    pub id: String,
    /// Category id.
    pub category: String,
    /// Item name.
    pub name: String,
    /// The condition as written in the model.
    pub when: String,
    /// `household` or `member`.
    pub per: Per,
    /// Times the item counted (matching members for per-member items).
    pub count: u32,
    /// The item's points.
    pub points: f64,
    /// The category weight.
    pub weight: f64,
    /// weight × points × count.
    pub contribution: f64,
    /// Whether it is a trigger item.
    pub trigger: bool,
    /// Department it is referred to.
    pub department: String,
    /// Matching members (masked ids), for per-member items.
    pub matching_members: Vec<String>,
    /// The inputs the condition read, as `column = value` (member columns
    /// list one value per member).
    pub inputs: Vec<String>,
}

/// A category subtotal in an explanation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExplainedCategory {
    /// Category id.
    pub id: String,
    /// Category name.
    pub name: String,
    /// Weighted points.
    pub total: f64,
    /// Weighted points per member.
    pub per_capita: f64,
}

/// Why a household got its score.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    /// Household id.
    pub household_id: String,
    /// Village.
    pub village: String,
    /// Line in households.csv.
    pub line: u64,
    /// Co-resident members.
    pub members: usize,
    /// Members' ids (masked unless asked).
    pub member_ids: Vec<String>,
    /// Total weighted points.
    pub total_points: f64,
    /// Per-capita score.
    pub per_capita_score: f64,
    /// The model's normalisation (`per_capita`, `total` …).
    pub normalise: &'static str,
    /// What the divided points were divided by.
    pub divisor: f64,
    /// Points of items with `divide = false`, added whole.
    pub undivided_points: f64,
    /// The normalised score the bands apply to.
    pub score: f64,
    /// Alert level name, if any.
    pub alert_level: Option<String>,
    /// Whether a trigger item fired.
    pub triggered: bool,
    /// Items that fired, largest contribution first.
    pub items: Vec<ExplainedItem>,
    /// Category subtotals, in model order.
    pub categories: Vec<ExplainedCategory>,
    /// Number of items that did not fire.
    pub items_not_fired: usize,
}

/// Explains one accepted household, as [`hhrisk_roster::read`] hands it
/// over: every item that fired, its points and what it read.
pub fn explain_household(scorer: &Scorer, h: HouseholdView, unmasked: bool) -> Explanation {
    let model = scorer.model();
    let inputs = h.inputs;
    let score = scorer.score(&inputs);
    let ids: Vec<String> =
        h.members.iter().map(|&id| if unmasked { id.to_string() } else { mask_id(id) }).collect();
    let mut items: Vec<ExplainedItem> = score
        .hits
        .iter()
        .map(|hit| explain_item(model, &inputs, &ids, hit.item, hit.count, hit.points))
        .collect();
    items.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()).then(a.id.cmp(&b.id)));
    Explanation {
        household_id: h.id.to_string(),
        village: h.village.to_string(),
        line: h.line,
        members: score.members,
        member_ids: ids,
        total_points: score.total,
        per_capita_score: score.per_capita,
        normalise: model.scoring.normalise.name(),
        divisor: score.divisor,
        undivided_points: score.undivided,
        score: score.score,
        alert_level: score.alert.map(|a| scorer.bands().levels[a].name.clone()),
        triggered: score.triggered,
        categories: categories(model, &score),
        items_not_fired: model.items.len() - items.len(),
        items,
    }
}

fn categories(model: &Model, score: &HouseholdScore) -> Vec<ExplainedCategory> {
    model
        .categories
        .iter()
        .enumerate()
        .map(|(c, cat)| ExplainedCategory {
            id: cat.id.clone(),
            name: cat.name.clone(),
            total: score.categories[c],
            per_capita: score.category_per_capita(c),
        })
        .collect()
}

fn explain_item(
    model: &Model,
    x: &Inputs,
    ids: &[String],
    index: usize,
    count: u32,
    contribution: f64,
) -> ExplainedItem {
    let item = &model.items[index];
    let n = x.member_count();
    let matching_members = match item.per {
        Per::Member => (0..n).filter(|&m| item.condition.eval(x, m)).map(|m| ids[m].clone()).collect(),
        Per::Household => Vec::new(),
    };
    let inputs = item
        .reads
        .iter()
        .map(|&c| {
            let col = &model.columns[c];
            match col.file {
                Scope::Household => {
                    format!("{} = {}", col.name, col.format_value(x.household[col.slot]))
                }
                Scope::Member => {
                    let values: Vec<String> =
                        (0..n).map(|m| col.format_value(x.members[m * x.stride + col.slot])).collect();
                    format!("{} = [{}]", col.name, values.join(", "))
                }
            }
        })
        .collect();
    ExplainedItem {
        id: item.id.clone(),
        category: model.categories[item.category].id.clone(),
        name: item.name.clone(),
        when: item.when.clone(),
        per: item.per,
        count,
        points: item.points,
        weight: model.categories[item.category].weight,
        contribution,
        trigger: item.trigger,
        department: model.departments[item.department].id.clone(),
        matching_members,
        inputs,
    }
}

impl Explanation {
    /// A readable, plain-text account.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Household {} (village {}), households.csv line {}: {} member{}",
            self.household_id,
            self.village,
            self.line,
            self.members,
            if self.members == 1 { "" } else { "s" }
        );
        let _ = writeln!(s, "Members: {}", self.member_ids.join(", "));
        let alert = format!(
            "alert: {}{}",
            self.alert_level.as_deref().unwrap_or("none"),
            if self.triggered { " (a trigger item fired)" } else { "" }
        );
        if self.normalise == "per_capita" && self.undivided_points == 0.0 {
            let _ = writeln!(
                s,
                "Score: {} points / {} members = {} per capita; {alert}",
                format_number(self.total_points),
                self.members,
                format_number(self.per_capita_score),
            );
        } else {
            let _ = writeln!(
                s,
                "Score ({}): ({} points - {} undivided) / {} + {} = {}; {alert}",
                self.normalise,
                format_number(self.total_points),
                format_number(self.undivided_points),
                format_number(self.divisor),
                format_number(self.undivided_points),
                format_number(self.score),
            );
            let _ = writeln!(
                s,
                "       ({} per capita: {} points / {} members)",
                format_number(self.per_capita_score),
                format_number(self.total_points),
                self.members
            );
        }
        let _ = writeln!(s, "\nItems that counted, largest first:");
        for it in &self.items {
            let _ = writeln!(
                s,
                "  {:<4} {:>9}  = {} × {} points × weight {}   {} [{}]{}",
                it.id,
                format_number(it.contribution),
                it.count,
                format_number(it.points),
                format_number(it.weight),
                it.name,
                it.category,
                if it.trigger { "  TRIGGER" } else { "" }
            );
            let _ = writeln!(s, "         when {}", it.when);
            if !it.matching_members.is_empty() {
                let _ = writeln!(s, "         members: {}", it.matching_members.join(", "));
            }
            if !it.inputs.is_empty() {
                let _ = writeln!(s, "         read: {}", it.inputs.join("; "));
            }
            let _ = writeln!(s, "         referred to: {}", it.department);
        }
        let _ = writeln!(s, "  ({} other items did not apply)", self.items_not_fired);
        let _ = writeln!(s, "\nCategory subtotals (points, per capita):");
        for c in &self.categories {
            let _ = writeln!(
                s,
                "  {:<14} {:>9} {:>9}  {}",
                c.id,
                format_number(c.total),
                format_number(c.per_capita),
                c.name
            );
        }
        s
    }

    /// The same account in Chinese, for a county office: the same numbers,
    /// item names, conditions and ids.
    pub fn to_text_zh(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "户 {}（{}），households.csv 第 {} 行：{} 人",
            self.household_id, self.village, self.line, self.members
        );
        let _ = writeln!(s, "成员：{}", self.member_ids.join("、"));
        let alert = format!(
            "预警：{}{}",
            self.alert_level.as_deref().unwrap_or("无"),
            if self.triggered { "（有触发项）" } else { "" }
        );
        if self.normalise == "per_capita" && self.undivided_points == 0.0 {
            let _ = writeln!(
                s,
                "分值：{} 分 ÷ {} 人 = 人均 {}；{alert}",
                format_number(self.total_points),
                self.members,
                format_number(self.per_capita_score),
            );
        } else {
            let _ = writeln!(
                s,
                "分值（{}）：（{} 分 − 不分摊的 {} 分）÷ {} + {} = {}；{alert}",
                self.normalise,
                format_number(self.total_points),
                format_number(self.undivided_points),
                format_number(self.divisor),
                format_number(self.undivided_points),
                format_number(self.score),
            );
            let _ = writeln!(
                s,
                "      （人均 {}：{} 分 ÷ {} 人）",
                format_number(self.per_capita_score),
                format_number(self.total_points),
                self.members
            );
        }
        let _ = writeln!(s, "\n计分的指标项（分值由大到小）：");
        for it in &self.items {
            let _ = writeln!(
                s,
                "  {:<4} {:>9}  = {} 次 × {} 分 × 权重 {}   {} [{}]{}",
                it.id,
                format_number(it.contribution),
                it.count,
                format_number(it.points),
                format_number(it.weight),
                it.name,
                it.category,
                if it.trigger { "  触发项" } else { "" }
            );
            let _ = writeln!(s, "         条件：{}", it.when);
            if !it.matching_members.is_empty() {
                let _ = writeln!(s, "         符合的成员：{}", it.matching_members.join("、"));
            }
            if !it.inputs.is_empty() {
                let _ = writeln!(s, "         读取：{}", it.inputs.join("；"));
            }
            let _ = writeln!(s, "         推送部门：{}", it.department);
        }
        let _ = writeln!(s, "  （另有 {} 项不适用）", self.items_not_fired);
        let _ = writeln!(s, "\n各类别小计（分，人均）：");
        for c in &self.categories {
            let _ = writeln!(
                s,
                "  {:<14} {:>9} {:>9}  {}",
                c.id,
                format_number(c.total),
                format_number(c.per_capita),
                c.name
            );
        }
        s
    }
}
