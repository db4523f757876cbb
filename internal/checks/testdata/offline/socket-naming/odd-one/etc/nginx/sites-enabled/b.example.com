server {
    listen 80;
    server_name b.example.com;
    root /var/www/b.example.com;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php8.2-fpm-b.sock;
    }
}
