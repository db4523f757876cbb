server {
    listen 80;
    server_name blog.example.com;
    root /var/www/blog;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php8.2-fpm-blog.sock;
    }
}
