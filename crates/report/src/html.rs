//! The report as a self-contained HTML page and a short Markdown summary.

use std::fmt::Write as _;

use hhrisk_calibrate::intervals::Interval;
use hhrisk_calibrate::metrics::Accuracy;

use crate::i18n::Lang;
use crate::Report;

/// The charts in page order: file stem and title key.
pub const CHARTS: [(&str, &str); 7] = [
    ("threshold", "threshold"),
    ("pr_curve", "pr_curve"),
    ("distribution", "distribution"),
    ("villages", "villages"),
    ("categories", "categories"),
    ("items", "items"),
    ("departments", "departments"),
];

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{:.1}%", 100.0 * x))
}

fn ci(i: Option<Interval>) -> String {
    i.map_or_else(String::new, |i| format!("[{:.1}, {:.1}]", 100.0 * i.lo, 100.0 * i.hi))
}

fn words(l: Lang) -> [&'static str; 24] {
    match l {
        Lang::Zh => [
            "模型",
            "样本",
            "户",
            "个村",
            "关键结果",
            "预警规则",
            "精确率",
            "95%区间",
            "召回率",
            "预警户数",
            "孝昌县实际（687条预警，404条核实）",
            "模型默认预警区间",
            "校准后（样本内）",
            "校准后（留一村验证）",
            "调优分值（留一村验证，同等预警量）",
            "校准后的预警区间",
            "预警等级",
            "分值下限",
            "户数",
            "核实有需要",
            "分值区间与有需要比例（似然表）",
            "核实计划：估计精确率到±误差所需核实户数（精确法）",
            "说明",
            "PNG 图片",
        ],
        Lang::En => [
            "Model",
            "Samples",
            "households",
            "villages",
            "Key figures",
            "Alert rule",
            "Precision",
            "95 % interval",
            "Recall",
            "Alerts",
            "Xiaochang as reported (687 alerts, 404 verified)",
            "The model's default bands",
            "Fitted bands, in sample",
            "Fitted bands, leave-one-village-out",
            "Tuned points, leave-one-village-out, same volume",
            "Fitted bands",
            "Level",
            "Lowest score",
            "Households",
            "Verified in need",
            "Share in need by score range (likelihood table)",
            "Verification plan: households to verify for a band's precision within ± margin (exact)",
            "Notes",
            "PNG image",
        ],
    }
}

/// Headings of the verification plan, its note, and the likelihood
/// table's first heading.
fn plan_words(l: Lang) -> [&'static str; 7] {
    match l {
        Lang::Zh => [
            "预警等级",
            "精确率",
            "误差",
            "样本中本等级户数",
            "需核实户数",
            "（多于本等级户数：需多批次累计核实）",
            "分值区间",
        ],
        Lang::En => [
            "Level",
            "Precision",
            "Margin",
            "Households in the band (samples)",
            "Households to verify",
            " (more than the band holds: verify over several batches)",
            "Score range",
        ],
    }
}

fn row(out: &mut String, name: &str, a: &Accuracy) {
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        pct(a.precision),
        ci(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
        pct(a.recall),
        ci(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
        a.alerts
    );
}

/// The heading and column names of the table by household size.
fn size_words(l: Lang) -> [&'static str; 9] {
    match l {
        Lang::Zh => [
            "按家庭人口分组（校准后的预警区间，样本内）",
            "人口",
            "户数",
            "核实有需要",
            "预警户数",
            "预警率",
            "有需要比例",
            "精确率",
            "召回率",
        ],
        Lang::En => [
            "By household size (fitted bands, in sample)",
            "Members",
            "Households",
            "Verified in need",
            "Alerts",
            "Alert rate",
            "Need rate",
            "Precision",
            "Recall",
        ],
    }
}

/// The title and headings of the alert-kind (`kinds`) or household-type
/// table.
fn group_words(l: Lang, kinds: bool) -> [&'static str; 6] {
    match (l, kinds) {
        (Lang::Zh, true) => [
            "按预警类型（校准后的预警区间，样本内）",
            "预警类型",
            "列入户数",
            "核实有需要",
            "精确率",
            "95%区间",
        ],
        (Lang::Zh, false) => [
            "按家庭类型（校准后的预警区间，样本内）",
            "家庭类型",
            "预警户数",
            "核实有需要",
            "精确率",
            "召回率",
        ],
        (Lang::En, true) => [
            "By alert kind (fitted bands, in sample)",
            "Alert kind",
            "Listed",
            "Verified in need",
            "Precision",
            "95 % interval",
        ],
        (Lang::En, false) => [
            "By household type (fitted bands, in sample)",
            "Household type",
            "Alerts",
            "Verified in need",
            "Precision",
            "Recall",
        ],
    }
}

/// A kind's or a group's name in the report's language.
fn group_name(l: Lang, name: &str) -> String {
    let zh = match name {
        "risk" => "风险预警（达到预警区间）",
        "not_enrolled" => "应纳未纳",
        "check_means" => "疑似错保（有财产信号）",
        _ => return name.to_string(),
    };
    match l {
        Lang::Zh => zh.to_string(),
        Lang::En => name.replace('_', " "),
    }
}

/// The alert-kind or household-type table (nothing when empty).
fn group_table(s: &mut String, l: Lang, groups: &[hhrisk_calibrate::evaluation::Group], kinds: bool) {
    if groups.is_empty() {
        return;
    }
    let h = group_words(l, kinds);
    let _ = writeln!(s, "<h2>{}</h2>\n<table>", h[0]);
    let _ = writeln!(s, "<tr>{}</tr>", h[1..].iter().map(|x| format!("<th>{x}</th>")).collect::<String>());
    for g in groups {
        let a = &g.accuracy;
        let last = if kinds { ci(a.precision_ci.wilson) } else { pct(a.recall) };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&group_name(l, &g.name)),
            a.alerts,
            a.true_alerts,
            pct(a.precision),
            last
        );
    }
    s.push_str("</table>\n");
}

/// One size group's cells, in the order of [`size_words`].
fn size_cells(g: &hhrisk_calibrate::household_size::SizeGroup) -> [String; 8] {
    [
        g.group.to_string(),
        g.households.to_string(),
        g.in_need.to_string(),
        g.alerts.to_string(),
        pct(g.alert_rate),
        pct(g.need_rate),
        pct(g.precision),
        pct(g.recall),
    ]
}

/// The fitted bands by household size: alert rate against need rate.
fn size_table(s: &mut String, l: Lang, groups: &[hhrisk_calibrate::household_size::SizeGroup]) {
    if groups.is_empty() {
        return;
    }
    let h = size_words(l);
    let _ = writeln!(s, "<h2>{}</h2>\n<table>", h[0]);
    let _ = writeln!(s, "<tr>{}</tr>", h[1..].iter().map(|x| format!("<th>{x}</th>")).collect::<String>());
    for g in groups {
        let cells: String = size_cells(g).iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
        let _ = writeln!(s, "<tr>{cells}</tr>");
    }
    s.push_str("</table>\n");
}

/// index.html: text, tables and the charts (SVG, with PNG beside them).
/// It references only the chart files and needs nothing from the network.
pub fn page(r: &Report) -> String {
    let (l, w, c) = (r.lang, words(r.lang), &r.calibration);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">",
        if l == Lang::Zh { "zh-CN" } else { "en" }
    );
    let _ = writeln!(s, "<title>{}</title>", escape(l.t("title")));
    s.push_str(
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}\
         td:first-child,th:first-child{text-align:left}figure{margin:2em 0}img{max-width:100%}\
         figcaption{color:#555}</style>\n</head>\n<body>\n",
    );
    let _ = writeln!(s, "<h1>{}</h1>", escape(l.t("title")));
    let _ = writeln!(s, "<p class=\"headline\"><strong>{}</strong></p>", escape(&r.headline.text));
    let _ = writeln!(
        s,
        "<p>{}: {} ({})<br>{}: {} — {} {}, {} {}</p>",
        w[0],
        escape(&r.model_name),
        escape(&r.model_version),
        w[1],
        escape(&r.samples),
        r.households,
        w[2],
        r.villages,
        w[3]
    );
    let _ = writeln!(s, "<h2>{}</h2>\n<table>", w[4]);
    let _ = writeln!(
        s,
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w[5], w[6], w[7], w[8], w[7], w[9]
    );
    let x = &r.xiaochang;
    let _ = writeln!(
        s,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>–</td><td></td><td>{}</td></tr>",
        escape(w[10]),
        pct(Some(x.precision)),
        ci(Some(x.wilson)),
        x.alerts
    );
    row(&mut s, w[11], &c.baseline.in_sample);
    row(&mut s, w[12], &c.in_sample);
    row(&mut s, w[13], &c.leave_one_village_out.accuracy);
    if let Some(t) = &c.tuned {
        row(&mut s, w[14], &t.leave_one_village_out.tuned);
    }
    s.push_str("</table>\n");

    let _ = writeln!(s, "<h2>{}</h2>\n<table>", w[15]);
    let _ = writeln!(
        s,
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w[16], w[17], w[18], w[19], w[6], w[7]
    );
    for b in &c.band_figures {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.band_label(&b.level)),
            b.min_score,
            b.households,
            b.in_need,
            pct(b.precision),
            ci(b.precision_ci)
        );
    }
    s.push_str("</table>\n");
    size_table(&mut s, l, &c.by_household_size);
    group_table(&mut s, l, &r.by_alert_kind, true);
    group_table(&mut s, l, &r.by_household_type, false);

    for (stem, key) in CHARTS {
        let _ = writeln!(
            s,
            "<figure><img src=\"{stem}.svg\" alt=\"{title}\"><figcaption>{title} (<a href=\"{stem}.png\">{png}</a>)</figcaption></figure>",
            title = escape(l.t(key)),
            png = w[23]
        );
    }

    let _ = writeln!(s, "<h2>{}</h2>\n<table>", w[20]);
    let _ = writeln!(
        s,
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>%</th><th>{}</th></tr>",
        plan_words(l)[6],
        w[18],
        w[19],
        w[7]
    );
    for row in &c.likelihood {
        let _ = writeln!(
            s,
            "<tr><td>{:.2} – {:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.from,
            row.to,
            row.households,
            row.in_need,
            pct(Some(row.share)),
            ci(row.ci)
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(s, "<h2>{}</h2>\n<table>", w[21]);
    let plan = plan_words(l);
    let _ = writeln!(s, "<tr>{}</tr>", plan[..5].iter().map(|x| format!("<th>{x}</th>")).collect::<String>());
    for p in &c.verification_plan {
        // the households the band holds in the samples: a plan asking for
        // more is met over several batches, and says so
        let held = c.band_figures.iter().find(|b| b.level == p.level).map(|b| b.households);
        let held = held.or_else(|| (p.level == "all alerts").then_some(c.in_sample.alerts));
        let needed = p.households.map_or_else(|| "–".into(), |n| n.to_string());
        let more = matches!((p.households, held), (Some(n), Some(h)) if n > h);
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>±{:.0}%</td><td>{}</td><td>{}{}</td></tr>",
            escape(&r.band_label(&p.level)),
            pct(Some(p.precision)),
            100.0 * p.margin,
            held.map_or_else(|| "–".into(), |h| h.to_string()),
            needed,
            if more { plan[5] } else { "" }
        );
    }
    s.push_str("</table>\n");
    if !c.warnings.is_empty() {
        let _ = writeln!(s, "<h2>{}</h2>\n<ul>", w[22]);
        for note in &c.warnings {
            let _ = writeln!(s, "<li>{}</li>", escape(note));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// summary.md: the key figures and the bands.
pub fn summary(r: &Report) -> String {
    let (l, w, c) = (r.lang, words(r.lang), &r.calibration);
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", l.t("title"));
    let _ = writeln!(s, "**{}**\n", r.headline.text);
    let _ = writeln!(
        s,
        "{}: {} ({}); {}: {}, {} {}, {} {}.\n",
        w[0], r.model_name, r.model_version, w[1], r.samples, r.households, w[2], r.villages, w[3]
    );
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} |\n|---|---:|---|---:|---|---:|",
        w[5], w[6], w[7], w[8], w[7], w[9]
    );
    let line = |s: &mut String, name: &str, a: &Accuracy| {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            name,
            pct(a.precision),
            ci(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
            pct(a.recall),
            ci(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
            a.alerts
        );
    };
    let x = &r.xiaochang;
    let _ = writeln!(
        s,
        "| {} | {} | {} | – |  | {} |",
        w[10],
        pct(Some(x.precision)),
        ci(Some(x.wilson)),
        x.alerts
    );
    line(&mut s, w[11], &c.baseline.in_sample);
    line(&mut s, w[12], &c.in_sample);
    line(&mut s, w[13], &c.leave_one_village_out.accuracy);
    if let Some(t) = &c.tuned {
        line(&mut s, w[14], &t.leave_one_village_out.tuned);
    }
    let _ = writeln!(
        s,
        "\n| {} | {} | {} | {} | {} |\n|---|---:|---:|---:|---:|",
        w[16], w[17], w[18], w[19], w[6]
    );
    for b in &c.band_figures {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {} | {} | {} |",
            r.band_label(&b.level),
            b.min_score,
            b.households,
            b.in_need,
            pct(b.precision)
        );
    }
    if !c.by_household_size.is_empty() {
        let h = size_words(l);
        let _ =
            writeln!(s, "\n{}\n\n| {} |\n|---|---:|---:|---:|---:|---:|---:|---:|", h[0], h[1..].join(" | "));
        for g in &c.by_household_size {
            let _ = writeln!(s, "| {} |", size_cells(g).join(" | "));
        }
    }
    s
}
