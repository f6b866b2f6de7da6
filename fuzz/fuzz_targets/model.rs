//! The model parser and the condition language: any text must give a model
//! or problems with positions, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = hhrisk_model::Model::from_toml(text, "fuzz.toml") {
            let _ = e.to_string();
        }
        // the text as a condition of a minimal model
        let model = format!(
            "[model]\nname='f'\nversion='1'\nsource='f'\n[[departments]]\nid='d'\nname='d'\n\
             [[columns]]\nname='income'\nfile='households'\ntype='decimal'\n[[columns]]\nname='age'\nfile='members'\ntype='integer'\n\
             [[categories]]\nid='c'\nname='c'\n[[items]]\nid='X'\ncategory='c'\nname='x'\nwhen='''{}'''\npoints=1\ndepartment='d'\n",
            text.replace("'''", "")
        );
        let _ = hhrisk_model::Model::from_toml(&model, "fuzz.toml");
    }
});
