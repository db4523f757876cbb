server {
    listen 80;
    server_name shop.example.com;
    root /var/www/shop.example.com;

    location ~ \.php$ {
        fastcgi_pass unix:/var/run/shop.sock;
    }
}
