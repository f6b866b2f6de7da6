use hhrisk_model::Model;
use std::path::Path;

#[test]
fn bundled_model_has_8_categories_and_55_items() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../indicators/xiaochang.toml");
    let model = Model::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.categories.len(), 8);
    assert_eq!(model.items.len(), 55);
}
