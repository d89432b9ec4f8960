use crate::pages::{HomePage, Layout};

pub async fn home() -> HomePage {
    HomePage {
        layout: Layout::new(),
    }
}
