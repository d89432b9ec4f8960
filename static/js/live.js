// Placeholder so assets::url("js/live.js") resolves; the statuses area writes the live-update script.
