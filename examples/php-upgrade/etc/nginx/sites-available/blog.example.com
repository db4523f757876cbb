# WordPress on PHP-FPM. PHP was upgraded from 7.4 to 8.2 with apt;
# this file was not touched.
server {
    listen 80;
    listen [::]:80;
    server_name blog.example.com www.blog.example.com;
    root /var/www/blog;
    index index.php;

    location / {
        try_files $uri $uri/ /index.php?$args;
    }

    location ~ \.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php/php7.4-fpm.sock;
    }
}
