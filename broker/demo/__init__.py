"""The one-command demo: five offices, three partner formats, a real RabbitMQ (liaison demo)."""
