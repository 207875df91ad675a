//! A fresh SQLite file per test, in a temporary directory removed on drop.

/// A SQLite database file made for one test.
pub struct TestSqlite {
    pub url: String,
    pub path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestSqlite {
    pub fn create() -> TestSqlite {
        let dir = tempfile::tempdir().expect("temporary directory for a SQLite test database");
        let path = dir.path().join("test.sqlite");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        TestSqlite {
            url,
            path,
            _dir: dir,
        }
    }
}
