server {
    listen 80;
    server_name a.example.com;
    root /var/www/a.example.com;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php8.2-fpm-a.sock;
    }
}
