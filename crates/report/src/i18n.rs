//! Labels in the report's language: Chinese for county offices by
//! default, English on request.

/// The language of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 中文 (default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Picks a name: the Chinese one, or the English one when there is.
    pub fn name(self, zh: &str, en: Option<&str>) -> String {
        match (self, en) {
            (Lang::En, Some(en)) => en.to_string(),
            _ => zh.to_string(),
        }
    }

    /// The label of a key.
    pub fn t(self, key: &str) -> &'static str {
        let (zh, en) = match key {
            "title" => ("低收入人口监测预警评估报告", "Low-income household early-warning report"),
            "threshold" => (
                "精确率、召回率与预警量随分值阈值的变化",
                "Precision, recall and alert volume by score threshold",
            ),
            "score_threshold" => ("分值阈值", "score threshold"),
            "share" => ("比例", "share"),
            "precision" => ("精确率", "precision"),
            "precision_ci" => ("精确率95%置信区间", "precision, 95 % interval"),
            "recall" => ("召回率", "recall"),
            "alert_share" => ("预警户占比", "share of households alerted"),
            "fitted_band" => ("校准后", "fitted"),
            "default_band" => ("默认", "default"),
            "pr_curve" => ("精确率—召回率曲线", "Precision–recall curve"),
            "current" => ("现行分值", "current points"),
            "tuned" => ("调优分值", "tuned points"),
            "distribution" => {
                ("分值分布：核实有需要与无需要的家庭", "Scores of households that did and did not need help")
            }
            "score" => ("分值（预警区间所用）", "score (what the bands apply to)"),
            "households" => ("户数", "households"),
            "in_need" => ("核实有救助需要", "verified in need"),
            "not_in_need" => ("核实无救助需要", "verified not in need"),
            "villages" => ("各样本村精确率（留一村验证）", "Precision per village (leave-one-village-out)"),
            "held_out" => ("用其余村校准的预警区间", "bands fitted on the other villages"),
            "default_bands" => ("模型默认预警区间", "the model's default bands"),
            "xiaochang" => ("孝昌县实际精确率59%", "Xiaochang's 59 %"),
            "categories" => ("各大类指标的户人均分值", "Mean per-capita points by category"),
            "alerted" => ("预警户", "alerted"),
            "not_alerted" => ("未预警户", "not alerted"),
            "points" => ("分值", "points"),
            "items" => ("预警户中贡献最大的指标", "Items contributing most among alerted households"),
            "departments" => ("各责任部门的预警户数", "Alerted households per responsible department"),
            "alerts" => ("预警户数", "alerted households"),
            "fires_no_alert" => ("指标触发但未预警", "item fires, no alert"),
            _ => ("", ""),
        };
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}
