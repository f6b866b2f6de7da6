//! Reports of a calibration: charts (plotters, SVG and PNG), a
//! self-contained HTML page and a Markdown summary.
//!
//! [`build()`] computes the numbers behind every chart once ([`ChartData`]);
//! [`write()`] draws them and writes `index.html`, `summary.md` and
//! `report.json` (the numbers, for checking). Labels are Chinese by
//! default; Chinese characters are drawn with a font found on the machine
//! ([`font::register`]).
#![deny(missing_docs)]

pub mod charts;
pub mod data;
pub mod font;
pub mod html;
pub mod i18n;

use std::io::Write;
use std::path::{Path, PathBuf};

use hhrisk_calibrate::evaluation::{from_counts, CountsOnly};
use hhrisk_calibrate::{Calibration, Samples};
use hhrisk_model::Model;
use hhrisk_tables::AtomicFile;

pub use data::ChartData;
pub use i18n::Lang;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No usable font.
    #[error(transparent)]
    Font(#[from] font::FontError),
    /// A chart could not be drawn.
    #[error("cannot draw {chart}: {source}")]
    Chart {
        /// The chart.
        chart: String,
        /// The drawing error.
        source: charts::ChartError,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Everything a report shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Language of the labels.
    #[serde(skip)]
    pub lang: Lang,
    /// Model name.
    pub model_name: String,
    /// Model version.
    pub model_version: String,
    /// The samples, as named on the command line.
    pub samples: String,
    /// Sample households with outcomes.
    pub households: usize,
    /// Villages.
    pub villages: usize,
    /// Xiaochang's published figures, the baseline to beat.
    pub xiaochang: CountsOnly,
    /// The calibration reported on.
    pub calibration: Calibration,
    /// The numbers behind the charts.
    pub charts: ChartData,
    /// What the reader should take away, in one paragraph.
    pub headline: Headline,
    /// The sample households on each list (alert kind: `risk` under the
    /// fitted bands, `not_enrolled`, `check_means`) and how many were in
    /// need.
    pub by_alert_kind: Vec<hhrisk_calibrate::evaluation::Group>,
    /// Precision and recall of the fitted bands by household type (the
    /// model's `[[groups]]`).
    pub by_household_type: Vec<hhrisk_calibrate::evaluation::Group>,
    /// Each band's name as the report shows it (the model's label in the
    /// report's language), and `all alerts`'.
    #[serde(skip)]
    pub band_labels: std::collections::BTreeMap<String, String>,
}

impl Report {
    /// A band's name as the report shows it.
    pub fn band_label(&self, level: &str) -> String {
        self.band_labels.get(level).cloned().unwrap_or_else(|| level.to_string())
    }
}

/// The report's headline: the fitted bands' precision on villages left
/// out, set against Xiaochang's and against alerting at random.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Headline {
    /// Share of the sample households verified in need: the precision of
    /// alerting households at random.
    pub base_rate: Option<f64>,
    /// Precision on villages left out over the base rate.
    pub lift: Option<f64>,
    /// The precision on villages left out against Xiaochang's 404 of 687.
    pub against_xiaochang: Option<hhrisk_calibrate::evaluation::Comparison>,
    /// The paragraph, in the report's language.
    pub text: String,
}

/// The headline of a calibration, worded in `lang`.
pub fn headline(calibration: &Calibration, lang: Lang) -> Headline {
    use hhrisk_calibrate::evaluation::{against_xiaochang, Verdict};
    let all = &calibration.in_sample;
    let held = &calibration.leave_one_village_out.accuracy;
    let base_rate = (all.households > 0).then(|| all.in_need as f64 / all.households as f64);
    let lift = base_rate.zip(held.precision).filter(|(b, _)| *b > 0.0).map(|(b, p)| p / b);
    let against = against_xiaochang(held.true_alerts, held.alerts);
    let pct = |v: f64| format!("{:.1}%", 100.0 * v);
    let pts = |v: f64| format!("{:+.1}", 100.0 * v);
    let text = match (&against, lang) {
        (None, Lang::Zh) => "留一村验证中没有预警户，无法与孝昌县比较。".to_string(),
        (None, Lang::En) => {
            "No household was alerted on the villages left out: nothing to compare.".to_string()
        }
        (Some(c), Lang::Zh) => {
            let i = c.difference_ci;
            let verdict = match c.verdict {
                Verdict::Higher => "超出偶然波动的范围，优于孝昌县",
                Verdict::Lower => "超出偶然波动的范围，低于孝昌县",
                Verdict::NoClearDifference => {
                    "不能排除是偶然波动，尚不能说明与孝昌县有差别；需要核实更多预警户"
                }
            };
            let random = match (base_rate, lift) {
                (Some(b), Some(l)) => {
                    format!("随机预警的精确率即有救助需要户的比例 {}，校准后的预警是其 {l:.2} 倍。", pct(b))
                }
                _ => String::new(),
            };
            format!(
                "用其余样本村校准、在留出的村验证，预警精确率为 {}（{} 户预警），孝昌县实际为 {}：相差 {} 个百分点，\
                 差值的95%置信区间为 {} 至 {} 个百分点，{verdict}。{random}",
                pct(c.precision),
                held.alerts,
                pct(c.xiaochang),
                pts(c.difference),
                pts(i.lo),
                pts(i.hi)
            )
        }
        (Some(c), Lang::En) => {
            let random = match (base_rate, lift) {
                (Some(b), Some(l)) => format!(
                    " Alerting at random would be right {} of the time (the share in need): the fitted alerts are \
                     {l:.2} times as precise.",
                    pct(b)
                ),
                _ => String::new(),
            };
            format!(
                "Bands fitted on the other villages, measured on the one left out: {}.{random}",
                c.sentence
            )
        }
    };
    Headline { base_rate, lift, against_xiaochang: against, text }
}

/// Computes a report's contents.
pub fn build(
    model: &Model,
    samples: &Samples,
    calibration: Calibration,
    samples_label: &str,
    lang: Lang,
) -> Report {
    let fitted = calibration.fitted_bands();
    let label = |zh: &str, en: Option<&str>| lang.name(zh, en);
    let charts = data::chart_data(model, samples, &calibration, &fitted, &label);
    // the lists and household types under the fitted bands (empty when the
    // rosters cannot be read again)
    let records = hhrisk_calibrate::evaluation::sample_records(model, samples, &fitted).unwrap_or_default();
    let mut breakdowns = hhrisk_calibrate::evaluation::evaluate(&records, f64::INFINITY);
    // kinds in the scores file's order; types by their names in the model
    let kind_order = |name: &str| hhrisk_calibrate::evaluation::ALERT_KINDS.iter().position(|k| *k == name);
    breakdowns.by_alert_kind.sort_by_key(|g| kind_order(&g.name));
    for g in &mut breakdowns.by_household_type {
        if let Some(group) = model.groups.iter().find(|x| x.id == g.name) {
            g.name = label(&group.name, group.name_en.as_deref());
        }
    }
    Report {
        lang,
        model_name: lang.name(&model.meta.name, model.meta.name_en.as_deref()),
        model_version: model.meta.version.clone(),
        samples: samples_label.to_string(),
        households: samples.len(),
        villages: samples.villages.len(),
        xiaochang: from_counts(687, 404).expect("687 alerts, 404 verified"),
        headline: headline(&calibration, lang),
        band_labels: model
            .bands
            .levels
            .iter()
            .map(|b| {
                (b.name.clone(), lang.name(b.label.as_deref().unwrap_or(&b.name), b.label_en.as_deref()))
            })
            .chain([(
                "all alerts".to_string(),
                if lang == Lang::Zh { "全部预警".into() } else { "all alerts".into() },
            )])
            .collect(),
        by_alert_kind: breakdowns.by_alert_kind,
        by_household_type: breakdowns.by_household_type,
        calibration,
        charts,
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), ReportError> {
    let io = |source| ReportError::Io { path: path.display().to_string(), source };
    let mut f = AtomicFile::create(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.commit().map_err(io)
}

/// Draws the charts and writes the report files into `out`; returns them.
pub fn write(report: &Report, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    font::register()?;
    std::fs::create_dir_all(out)
        .map_err(|source| ReportError::Io { path: out.display().to_string(), source })?;
    let (d, l) = (&report.charts, report.lang);
    let draw = |name: &str, result: Result<(), charts::ChartError>| {
        result.map_err(|source| ReportError::Chart { chart: name.to_string(), source })
    };
    draw("threshold", charts::render(&charts::Threshold(d, l), out, "threshold"))?;
    draw("pr_curve", charts::render(&charts::PrCurves(d, l), out, "pr_curve"))?;
    draw("distribution", charts::render(&charts::Distribution(d, l), out, "distribution"))?;
    draw("villages", charts::render(&charts::Villages(d, l), out, "villages"))?;
    let series = [l.t("alerted"), l.t("not_alerted")];
    let bars = |title, x_desc, rows, series, label_width, whole| charts::Bars {
        title,
        x_desc,
        rows,
        series,
        label_width,
        whole,
    };
    let categories = bars(l.t("categories"), l.t("points"), &d.categories, series, 230, false);
    draw("categories", charts::render(&categories, out, "categories"))?;
    draw(
        "items",
        charts::render(&bars(l.t("items"), l.t("points"), &d.items, series, 330, false), out, "items"),
    )?;
    let dept_series = [l.t("alerts"), l.t("fires_no_alert")];
    let departments = bars(l.t("departments"), l.t("households"), &d.departments, dept_series, 230, true);
    draw("departments", charts::render(&departments, out, "departments"))?;

    let mut files: Vec<PathBuf> = html::CHARTS
        .iter()
        .flat_map(|(stem, _)| [out.join(format!("{stem}.svg")), out.join(format!("{stem}.png"))])
        .collect();
    for (name, text) in [
        ("index.html", html::page(report)),
        ("summary.md", html::summary(report)),
        ("report.json", serde_json::to_string_pretty(report).unwrap_or_default() + "\n"),
    ] {
        let path = out.join(name);
        write_atomic(&path, &text)?;
        files.push(path);
    }
    Ok(files)
}
