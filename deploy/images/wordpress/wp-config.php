<?php
/*
 * wp-config.php of the example/wordpress:1 image (shoal's example platform).
 *
 * Everything comes from the environment, as with the official image, so one file
 * serves every deployment (the fileserver service copies it into the shared tree with
 * the release; php-fpm passes its environment to PHP: clear_env = no):
 *   WORDPRESS_DB_HOST (default db), WORDPRESS_DB_NAME (wordpress),
 *   WORDPRESS_DB_USER (wordpress), WORDPRESS_DB_PASSWORD, WORDPRESS_TABLE_PREFIX (wp_),
 *   WORDPRESS_DEBUG (1/true/yes/on), WORDPRESS_AUTH_KEY ... WORDPRESS_NONCE_SALT,
 *   WORDPRESS_HTTP_BLOCK_EXTERNAL (1/true/yes/on: WordPress makes no HTTP requests
 *   outside the site, for a php-fpm without a route out: each would first wait 10-20 s
 *   for a DNS answer that never comes) and WORDPRESS_ACCESSIBLE_HOSTS (exceptions,
 *   comma-separated, e.g. api.wordpress.org,*.github.com).
 * Each may be given as NAME_FILE instead: the path of a file holding the value
 * (a swarm secret under /run/secrets).
 * Keys and salts not given are derived from the database password, so that every
 * php-fpm replica agrees on them and they are as secret as that password.
 */

function example_env($name, $default = '')
{
    $file = getenv($name . '_FILE');
    if ($file !== false && $file !== '') {
        $value = @file_get_contents($file);
        if ($value === false) {
            error_log("wp-config.php: cannot read {$name}_FILE ($file)");
            http_response_code(500);
            exit("Configuration error: {$name}_FILE cannot be read.\n");
        }
        return rtrim($value, "\r\n");
    }
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

define('DB_NAME', example_env('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', example_env('WORDPRESS_DB_USER', 'wordpress'));
define('DB_PASSWORD', example_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', example_env('WORDPRESS_DB_HOST', 'db'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');

foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
          'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $key) {
    $value = example_env('WORDPRESS_' . $key);
    define($key, $value !== '' ? $value
        : hash_hmac('sha256', $key, 'example/wordpress:' . DB_USER . '@' . DB_NAME . ':' . DB_PASSWORD));
}

$table_prefix = example_env('WORDPRESS_TABLE_PREFIX', 'wp_');

function example_flag($name)
{
    return in_array(strtolower(example_env($name)), ['1', 'true', 'yes', 'on'], true);
}

define('WP_DEBUG', example_flag('WORDPRESS_DEBUG'));

if (example_flag('WORDPRESS_HTTP_BLOCK_EXTERNAL')) {
    define('WP_HTTP_BLOCK_EXTERNAL', true);
    if (example_env('WORDPRESS_ACCESSIBLE_HOSTS') !== '') {
        define('WP_ACCESSIBLE_HOSTS', example_env('WORDPRESS_ACCESSIBLE_HOSTS'));
    }
}

// Behind the load balancer: TLS ends there.
if (($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}

// WordPress is upgraded by deploying a new image, not from inside a container.
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
