server {
    listen 80;
    server_name blog.example.com;
    root /var/www/blog.example.com;

    location ~ \.php$ {
        fastcgi_pass unix:/run/php/php7.4-fpm.sock; # want listen-mismatch
    }
}
