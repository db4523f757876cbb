server {
    listen 80;
    server_name example.com;
    root /var/www/example.com;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php8.2-fpm.sock;
    }
}
