server {
    listen 80;
    server_name example.com;
    root /var/www/example.com;

    location ~ \.php$ {
        fastcgi_pass 127.0.0.1:9000;
    }
}
