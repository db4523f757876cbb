server {
    listen 80;
    server_name shop.example.com;
    root /var/www/shop;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php8.1-fpm-shop.sock; # want listen-mismatch
    }
}
