//! WordPress as its users reach it, over HTTP through the example's load balancer: the
//! install step, an administrator's login, and a media upload, the way a browser makes
//! them (forms, cookies, the upload form's nonce). So the example's tests measure real
//! pages built from the database and files that really landed on the volume.

use std::time::Duration;

use reqwest::blocking::{Client, multipart};

/// The site's title, chosen at install: every page of the installed site carries it.
pub const SITE_TITLE: &str = "Shoal Example";

/// A 1x1 PNG: the smallest file WordPress accepts as an image upload.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xff, 0xff, 0x3f,
    0x00, 0x05, 0xfe, 0x02, 0xfe, 0xa7, 0x35, 0x81, 0x84, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A browser on the site at `base` (`http://10.213.0.11`): it keeps cookies.
pub struct Browser {
    base: String,
    client: Client,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let client = Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Browser {
            base: base.trim_end_matches('/').to_string(),
            client,
        }
    }

    /// GET `path`: the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }

    fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }

    /// WordPress's install step (the form of wp-admin/install.php): the site's title and
    /// its administrator. Panics unless WordPress says it succeeded.
    pub fn install(&self, user: &str, password: &str) {
        let (status, body) = self.post_form(
            "/wp-admin/install.php?step=2",
            &[
                ("weblog_title", SITE_TITLE),
                ("user_name", user),
                ("admin_password", password),
                ("admin_password2", password),
                ("pw_weak", "on"),
                ("admin_email", "admin@example.org"),
                ("blog_public", "0"),
                ("language", ""),
            ],
        );
        assert!(
            status == 200 && body.contains("<h1>Success!</h1>"),
            "WordPress's install step answered {status}:\n{body}"
        );
    }

    /// Logs in as `user` through wp-login.php (its test cookie first, as a browser gets
    /// it). Panics unless WordPress lets the user into wp-admin.
    pub fn log_in(&self, user: &str, password: &str) {
        self.get("/wp-login.php");
        let (status, body) = self.post_form(
            "/wp-login.php",
            &[
                ("log", user),
                ("pwd", password),
                ("wp-submit", "Log In"),
                ("redirect_to", &format!("{}/wp-admin/", self.base)),
                ("testcookie", "1"),
            ],
        );
        assert!(
            status == 200 && body.contains("id=\"wpadminbar\""),
            "logging in as {user} answered {status}:\n{body}"
        );
    }

    /// Uploads a file as the media library's uploader does (async-upload.php with the
    /// nonce of the upload form); returns the path of the uploaded file on the site,
    /// `/wp-content/uploads/YYYY/MM/NAME`.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> String {
        let (status, form) = self.get("/wp-admin/media-new.php");
        let nonce = form
            .split_once("\"_wpnonce\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(nonce, _)| nonce.to_string())
            .unwrap_or_else(|| panic!("no upload nonce in media-new.php ({status}):\n{form}"));
        let file = multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str("image/png")
            .expect("a MIME type");
        let form = multipart::Form::new()
            .text("action", "upload-attachment")
            .text("_wpnonce", nonce)
            .text("name", name.to_string())
            .part("async-upload", file);
        let response = self
            .client
            .post(format!("{}/wp-admin/async-upload.php", self.base))
            .multipart(form)
            .send()
            .expect("POST async-upload.php");
        let body = response.text().unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("async-upload.php answered:\n{body}"));
        let url = answer["data"]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("the upload failed: {answer}"));
        url.strip_prefix(&self.base)
            .unwrap_or_else(|| panic!("{url} is not on {}", self.base))
            .to_string()
    }
}
