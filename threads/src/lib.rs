//! The threaded WebAssembly build of `ami3`: every `#[wasm_bindgen]` export of the library
//! (`analyze_member_js`, `combine_js`, `demo_files_js`) plus `initThreadPool(n)` from
//! wasm-bindgen-rayon, so that the integrations of one exposure are fitted on rayon threads.
//! Nothing else belongs here: the science is in `ami3`, the JavaScript glue in the page.

pub use ami3::*;

#[cfg(target_arch = "wasm32")]
pub use wasm_bindgen_rayon::init_thread_pool;
